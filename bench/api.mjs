// API figures: the round trip of ham_condition through the public API, and the heartbeat
// rate one HAM sustains. Baseline: a plain `net` server speaking the same frames, driven by
// the same client code, in the same run.
import { fork } from "node:child_process";
import { join } from "node:path";
import { cpuShare, killAll, now, own, printTable, ratio, ROOT, startHam, stats, tempDir, us } from "./lib.mjs";
import { openWire } from "./wire-client.mjs";

const WARMUP = 200;
const CALLS = 2_000;
const SENDERS = 2;
const RATE_MS = 3_000;

async function startEcho() {
  const path = join(tempDir("echo"), "echo.sock");
  const child = fork(join(ROOT, "bench/echo-server.mjs"), [path]);
  own(child.pid);
  await new Promise((resolve) => child.once("message", resolve));
  return { path, pid: child.pid };
}

async function timeCalls(call) {
  const samples = [];
  for (let i = 0; i < WARMUP + CALLS; i += 1) {
    const t0 = now();
    await call(i);
    if (i >= WARMUP) samples.push(now() - t0);
  }
  return stats(samples);
}

async function beatRate(path, mode, serverPid) {
  const senders = [];
  for (let s = 0; s < SENDERS; s += 1) {
    const child = fork(join(ROOT, "bench/beat-sender.mjs"), [path, mode, `sender${s}`, String(RATE_MS)]);
    own(child.pid);
    senders.push({ child, done: new Promise((resolve) => child.on("message", (m) => m.beats !== undefined && resolve(m))) });
    await new Promise((resolve) => child.once("message", resolve));
  }
  for (const { child } of senders) child.send("go");
  const cpu = cpuShare(serverPid, RATE_MS - 200);
  const results = await Promise.all(senders.map(({ done }) => done));
  const rate = results.reduce((sum, r) => sum + (r.beats * 1000) / r.elapsedMs, 0);
  return { rate, cpu: await cpu };
}

export async function apiFigures() {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const echo = await startEcho();
  const ham = await startHam();
  try {
    const wire = await openWire(echo.path);
    const baseline = await timeCalls((i) => wire.request("condition", { ename: "bench", cname: `c${i}`, type: 1, flags: 0 }));
    wire.close();
    await api.ham_connect(0);
    const entity = await api.ham_entity("bench", 0, 0);
    const condition = await timeCalls((i) => api.ham_condition(entity, api.CONDDEATH, `c${i}`, 0));
    await api.ham_disconnect(0);

    const echoRate = await beatRate(echo.path, "echo", echo.pid);
    const hamRate = await beatRate(join(ham.runDir, "ham.sock"), "ham", ham.pid);
    const perSec = (value) => `${Math.round(value).toLocaleString("en")}/s`;
    printTable(`API: ${CALLS} sequential calls after ${WARMUP} warm-up; heartbeats from ${SENDERS} senders for ${RATE_MS / 1000} s`, [
      ["bare net echo, same frames", `round trip p50 ${us(baseline.p50)}  p99 ${us(baseline.p99)}`],
      ["ham_condition via the API", `round trip p50 ${us(condition.p50)}  p99 ${us(condition.p99)}`],
      ["ham_condition / baseline", `p50 ${ratio(condition.p50, baseline.p50)}  p99 ${ratio(condition.p99, baseline.p99)}`],
      ["bare net server, one-way", `${perSec(echoRate.rate)} at ${(echoRate.cpu * 100).toFixed(0)} % CPU`],
      ["HAM heartbeats processed", `${perSec(hamRate.rate)} at ${(hamRate.cpu * 100).toFixed(0)} % CPU (${ratio(hamRate.rate, echoRate.rate)} of baseline)`],
    ]);
    return { baseline, condition, echoRate, hamRate };
  } finally {
    killAll();
    await ham.stop();
  }
}
