// One heartbeat load process for bench/heartbeat.mjs: self-attaches COUNT entities with a
// PERIOD_MS heartbeat (miss-low after 1 period), each with a CONDHBEATMISSEDLOW condition
// that pulses this process. Beats land mid-period. On "stall" it stops beating and reports,
// per entity, how long after its deadline the pulse arrived.
import { join } from "node:path";
import { now, ROOT } from "./lib.mjs";

const api = await import(join(ROOT, "dist/lib/index.js"));
const [count, periodMs, prefix] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const arrivals = new Map();
await api.ham_connect(0);
const channel = await api.ham_channel_create(({ value }) => arrivals.set(value, now()));
for (let i = 0; i < count; i += 1) {
  const entity = await api.ham_entity(`${prefix}-${i}`, 0, 0);
  const missed = await api.ham_condition(entity, api.CONDHBEATMISSEDLOW, "missed", 0);
  await api.ham_action_notify_pulse(missed, "tell", 0, channel.pid, channel.chid, 1, i, 0);
}

// Attach one by one; an entity's period boundaries are anchored when the HAM arms it, which
// is after the request was sent: taking the send time as anchor overstates lateness by at
// most one request's transit.
const anchors = [];
const start = now();
let beats = 0;
let lastBeat = 0;
let stalled = false;
function beat() {
  if (stalled) return;
  void api.ham_heartbeat();
  lastBeat = now();
  beats += 1;
  setTimeout(beat, Math.max(0, start + periodMs / 2 + beats * periodMs - now()));
}
setTimeout(beat, periodMs / 2);
for (let i = 0; i < count; i += 1) {
  anchors.push(now());
  await api.ham_attach_self(`${prefix}-${i}`, BigInt(periodMs) * 1_000_000n, 1, 0, 0);
}
const spread = now() - start;
if (spread > periodMs * 0.4) throw new Error(`attaching took ${spread.toFixed(1)} ms, too long to keep beats mid-period`);
process.send({ ready: true });

process.on("message", async (message) => {
  if (message.stall !== true) return;
  stalled = true;
  const deadline = Date.now() + 5 * periodMs + 2_000;
  while (arrivals.size < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const lateness = anchors.map((anchor, i) => {
    const window = Math.floor((lastBeat - anchor) / periodMs);
    const due = anchor + (window + 2) * periodMs;
    const arrived = arrivals.get(i);
    return arrived === undefined ? null : arrived - due;
  });
  process.send({ lateness });
});
