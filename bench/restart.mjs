// Restart latency: SIGKILL of a native child → its replacement running, for the HAM and for
// a bare spawn-on-exit loop, kills interleaved so both see the same machine.
// "Running" is when the replacement writes its pid into a FIFO: `sh -c 'echo $$ > F; exec sleep'`,
// the same command for both supervisors, so the shell's start-up cost is in both figures.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { killAll, ms, now, openFifo, own, printTable, ratio, ROOT, startHam, stats, tempDir } from "./lib.mjs";

const WARMUP = 5;

function commandFor(fifo) {
  return ["/bin/sh", "-c", `echo $$ > ${fifo}; exec sleep 100000`];
}

export async function restartLatency({ kills = 60 } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const dir = tempDir("restart");
  const hamFifo = openFifo(dir, "ham.fifo");
  const baseFifo = openFifo(dir, "base.fifo");
  const ham = await startHam();
  let baseline;
  try {
    const [shell, flag, script] = commandFor(hamFifo.path);
    const line = `${shell} ${flag} "${script}"`;
    await api.ham_connect(0);
    const entity = await api.ham_attach("victim", 0, -1, line, 0);
    const subjects = [{ name: "ham", fifo: hamFifo, pid: own(Number((await hamFifo.next()).text)), samples: [] }];
    await api.ham_entity_policy(entity, { minUptimeMs: 0 });
    const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
    await api.ham_action_restart(death, "restart", line, api.HREARMAFTERRESTART);

    baseline = spawn(process.execPath, [join(ROOT, "bench/spawn-on-exit.mjs"), ...commandFor(baseFifo.path)], { stdio: "inherit" });
    own(baseline.pid);
    subjects.push({ name: "baseline", fifo: baseFifo, pid: own(Number((await baseFifo.next()).text)), samples: [] });

    for (let round = 0; round < kills + WARMUP; round += 1) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      for (const subject of order) {
        const t0 = now();
        process.kill(subject.pid, "SIGKILL");
        const line = await subject.fifo.next().catch((error) => {
          throw new Error(`${subject.name}, round ${round}: ${error.message}`);
        });
        if (round >= WARMUP) subject.samples.push(line.at - t0);
        subject.pid = own(Number(line.text));
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    }
    await api.ham_disconnect(0).catch(() => undefined);
    const [h, b] = subjects.map((subject) => stats(subject.samples));
    printTable(`Restart latency: SIGKILL → replacement running (${kills} kills each, interleaved)`, [
      ["bare spawn-on-exit loop", `p50 ${ms(b.p50)}  p90 ${ms(b.p90)}  p99 ${ms(b.p99)}`],
      ["HAM (CONDDEATH → restart)", `p50 ${ms(h.p50)}  p90 ${ms(h.p90)}  p99 ${ms(h.p99)}`],
      ["HAM − baseline, median", `${ms(h.p50 - b.p50)} (goal ≤ 1 ms); HAM p99 goal ≤ 5 ms`],
      ["HAM / baseline, median", `${ratio(h.p50, b.p50)} (goal ≤ 1.3×)`],
    ]);
    return { ham: h, baseline: b };
  } finally {
    baseline?.kill("SIGTERM");
    killAll();
    await ham.stop();
    hamFifo.close();
    baseFifo.close();
  }
}
