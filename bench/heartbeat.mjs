// Missed-heartbeat detection with 1,000 self-attached entities beating every 100 ms.
// Half the load processes stop beating, one at a time; for each of their entities we take
// (a) the HAM's own figure (log field lateMs: miss noticed − period boundary) and (b) what
// the client sees: the notify pulse's arrival − the deadline computed from the client's clock.
// Baseline: a bare Node process running as many periodic timers, same period.
import { fork } from "node:child_process";
import { join } from "node:path";
import { cpuShare, killAll, ms, own, printTable, ratio, ROOT, startHam, stats } from "./lib.mjs";

const PROCESSES = 20;
const PER_PROCESS = 50;
const PERIOD_MS = 100;

function message(child, key, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load process ${child.pid}: no ${key} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (value) => {
      if (value.failed !== undefined) {
        clearTimeout(timer);
        reject(new Error(`load process ${child.pid}: ${value.failed}`));
        return;
      }
      if (value[key] === undefined) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(value[key]);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`load process ${child.pid} exited with ${code}`)));
  });
}

async function timerBaseline(count, durationMs) {
  const child = fork(join(ROOT, "bench/timer-baseline.mjs"), [String(count), String(PERIOD_MS), String(durationMs)]);
  own(child.pid);
  return new Promise((resolve) => child.once("message", resolve));
}

export async function heartbeatLateness() {
  const total = PROCESSES * PER_PROCESS;
  const baseline = stats(await timerBaseline(total, 3_000));
  const ham = await startHam();
  try {
    const idleCpu = await cpuShare(ham.pid, 2_000);
    const clients = [];
    const spreads = [];
    for (let p = 0; p < PROCESSES; p += 1) {
      const child = fork(join(ROOT, "bench/heartbeat-client.mjs"), [String(PER_PROCESS), String(PERIOD_MS), `hb${p}`], {
        env: { ...process.env, HAM_RUN_DIR: ham.runDir },
      });
      own(child.pid);
      clients.push(child);
      spreads.push((await message(child, "ready", 20_000)).spreadMs);
    }
    const beatingCpu = await cpuShare(ham.pid, 3_000);

    const stalling = clients.slice(0, PROCESSES / 2);
    const replies = [];
    for (const child of stalling) {
      const reply = message(child, "lateness", 10_000);
      child.send({ stall: true });
      replies.push(reply);
      await new Promise((resolve) => setTimeout(resolve, 3 * PERIOD_MS));
    }
    const seen = (await Promise.all(replies)).flat();
    const lost = seen.filter((value) => value === null).length;
    const client = stats(seen.filter((value) => value !== null));
    const own_ = stats(ham.logLines().filter((line) => line.event === "missed-low").map((line) => line.lateMs));
    printTable(`Missed-heartbeat detection: ${total} entities beating every ${PERIOD_MS} ms, ${seen.length} misses`, [
      ["bare Node timers (baseline)", `lateness p50 ${ms(baseline.p50)}  p99 ${ms(baseline.p99)}  (${baseline.n} firings)`],
      ["HAM, noticed (log lateMs)", `lateness p50 ${ms(own_.p50)}  p99 ${ms(own_.p99)}  max ${ms(own_.max)}  (${own_.n} misses)`],
      ["client, pulse arrived", `lateness p50 ${ms(client.p50)}  p99 ${ms(client.p99)}  max ${ms(client.max)}  (goal p99 ≤ 5 ms)`],
      ["pulses never received", `${lost}`],
      [`attaching ${PER_PROCESS} entities (one process)`, `p50 ${ms(stats(spreads).p50)}  max ${ms(stats(spreads).max)}  (beats re-aligned to the middle; limit ${0.8 * PERIOD_MS} ms)`],
      ["HAM p99 / baseline p99", ratio(own_.p99, baseline.p99)],
      ["HAM CPU, idle → beating", `${(idleCpu * 100).toFixed(1)} % → ${(beatingCpu * 100).toFixed(1)} % of one core (${(total * 1000) / PERIOD_MS} beats/s)`],
    ]);
    return { baseline, ham: own_, client, beatingCpu };
  } finally {
    killAll();
    await ham.stop();
  }
}
