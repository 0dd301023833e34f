// One heartbeat load process for bench/heartbeat.mjs: self-attaches COUNT entities with a
// PERIOD_MS heartbeat (miss-low after 1 period), each with a CONDHBEATMISSEDLOW condition
// that pulses this process. Beats land mid-period (re-aligned once all are attached). On
// "stall" it stops beating and reports, per entity, how long after its deadline the pulse arrived.
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
// Beats fall on a grid: phase + k × period. While attaching, phase is half a period after
// the start; once all are attached it moves half a period after the middle of the anchors,
// so every entity's boundaries are (period − spread) / 2 away from any beat.
let phase = now() + periodMs / 2;
let lastBeat = 0;
let stalled = false;
let timer;
function beat() {
  if (stalled) return;
  void api.ham_heartbeat();
  lastBeat = now();
  schedule(lastBeat + periodMs / 2);
}
// The next beat on the first grid point after `after`.
function schedule(after) {
  const next = phase + Math.ceil((after - phase) / periodMs) * periodMs;
  timer = setTimeout(beat, Math.max(0, next - now()));
}
schedule(now());
try {
  for (let i = 0; i < count; i += 1) {
    anchors.push(now());
    await api.ham_attach_self(`${prefix}-${i}`, BigInt(periodMs) * 1_000_000n, 1, 0, 0);
  }
  // A spread under one period means no entity has reached its first boundary yet, so moving
  // the grid now loses nothing; past 80 % the margin left (< 10 % of a period) nears timer jitter.
  const attached = now();
  const spread = attached - anchors[0];
  if (spread > periodMs * 0.8) {
    throw new Error(`attaching ${count} entities took ${spread.toFixed(1)} ms: over 80 % of the ${periodMs} ms period, no beat phase stays ${periodMs / 10} ms from every boundary`);
  }
  phase = (anchors[0] + attached) / 2 + periodMs / 2;
  // One extra beat now, so the move never leaves a gap longer than a period.
  clearTimeout(timer);
  void api.ham_heartbeat();
  lastBeat = now();
  schedule(lastBeat);
  process.send({ ready: { spreadMs: spread } });
} catch (error) {
  process.send({ failed: error instanceof Error ? error.message : String(error) }, () => process.exit(1));
}

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
