// Heartbeat load for bench/api.mjs: sends heartbeats on the bare wire as fast as the server
// takes them, in batches of BATCH, each batch closed by a round trip so every counted beat
// has been processed. Against the HAM it first says hello and self-attaches an entity.
import { now } from "./lib.mjs";
import { openWire } from "./wire-client.mjs";

const [path, mode, name, durationMs] = [process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5])];
const BATCH = 1_000;
const wire = await openWire(path);
if (mode === "ham") {
  await wire.request("hello", { pid: process.pid, version: 1 });
  await wire.request("attach_self", { ename: name, hp: 1_000_000_000, hpdl: 0, hpdh: 0, flags: 0 });
}
process.send({ ready: true });
await new Promise((resolve) => process.once("message", resolve));
const t0 = now();
let beats = 0;
while (now() - t0 < durationMs) {
  for (let i = 0; i < BATCH; i += 1) wire.notify("heartbeat", {});
  await wire.request(mode === "ham" ? "status" : "echo", {});
  beats += BATCH;
}
process.send({ beats, elapsedMs: now() - t0 });
