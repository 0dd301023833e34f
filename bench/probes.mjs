// Health probes off the HAM's event loop (issue 18): restart latency (SIGKILL → replacement
// running, as restart.mjs) and missed-heartbeat lateness (as heartbeat.mjs, with a 500 ms period: the HAM's lateMs
// and the client's pulse), first on a quiet HAM, then, in the same HAM and the same run, with
// 1,000 probing entities (a tcp probe each every second against a local listener, and exec
// probes of /bin/true on some of them). The probes run in the HAM's prober process: what they
// may cost the HAM is the results it is sent and the CPU the prober takes on the same cores.
import { fork } from "node:child_process";
import { join } from "node:path";
import { cpuShare, killAll, ms, now, openFifo, own, printTable, ratio, ROOT, startHam, stats, tempDir } from "./lib.mjs";

const WARMUP = 5;
// 500 ms, not heartbeat.mjs's 100: on a loaded 2-core machine attaching 50 entities took 1.7 s, past the
// client's rule (attached within 80 % of a period); 5 clients of 10 entities each.
const PERIOD_MS = 500;

function message(child, key, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid}: no ${key} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (value) => {
      if (value?.failed !== undefined) {
        clearTimeout(timer);
        reject(new Error(`process ${child.pid}: ${value.failed}`));
        return;
      }
      if (value?.[key] === undefined) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(value[key]);
    };
    child.on("message", onMessage);
  });
}

const sleep = (msecs) => new Promise((resolve) => setTimeout(resolve, msecs));

async function restarts(victim, kills) {
  const samples = [];
  for (let round = 0; round < kills + WARMUP; round += 1) {
    const t0 = now();
    process.kill(victim.pid, "SIGKILL");
    const line = await victim.fifo.next();
    if (round >= WARMUP) samples.push(line.at - t0);
    victim.pid = own(Number(line.text));
    await sleep(15);
  }
  return stats(samples);
}

// `clients` processes of `perClient` entities beating every 100 ms; each stops in turn.
async function heartbeatMisses(ham, prefix, clients, perClient) {
  const children = [];
  for (let c = 0; c < clients; c += 1) {
    const child = fork(join(ROOT, "bench/heartbeat-client.mjs"), [String(perClient), String(PERIOD_MS), `${prefix}${c}`], { env: { ...process.env, HAM_RUN_DIR: ham.runDir } });
    own(child.pid);
    children.push(child);
    await message(child, "ready", 30_000);
  }
  await sleep(1_000);
  const seen = [];
  for (const child of children) {
    const reply = message(child, "lateness", 15_000);
    child.send({ stall: true });
    seen.push(...(await reply));
    await sleep(3 * PERIOD_MS);
  }
  const own_ = ham.logLines().filter((line) => line.event === "missed-low" && String(line.entity).startsWith(prefix)).map((line) => line.lateMs);
  return { ham: stats(own_), client: stats(seen.filter((value) => value !== null)), lost: seen.filter((value) => value === null).length };
}

export async function probeFigures({ kills = 40, probing = 1_000, execs = 50, clients = 5, perClient = 10 } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const dir = tempDir("probes");
  const fifo = openFifo(dir, "ham.fifo");
  const ham = await startHam();
  try {
    const line = `/bin/sh -c "echo $$ > ${fifo.path}; exec sleep 100000"`;
    await api.ham_connect(0);
    const entity = await api.ham_attach("victim", 0, -1, line, 0);
    const victim = { fifo, pid: own(Number((await fifo.next()).text)) };
    await api.ham_entity_policy(entity, { minUptimeMs: 0 });
    const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
    await api.ham_action_restart(death, "restart", line, api.HREARMAFTERRESTART);

    const quietCpu = await cpuShare(ham.pid, 2_000);
    const quietRestart = await restarts(victim, kills);
    const quietBeat = await heartbeatMisses(ham, "q", clients, perClient);

    const listener = fork(join(ROOT, "bench/tcp-listener.mjs"));
    own(listener.pid);
    const { port } = await message(listener, "port", 10_000).then((value) => ({ port: value }));
    const holder = fork(join(ROOT, "bench/probe-holder.mjs"), [String(probing), String(port), "1000", String(execs)], { env: { ...process.env, HAM_RUN_DIR: ham.runDir } });
    own(holder.pid);
    const setupStart = now();
    await message(holder, "ready", 180_000);
    const setupMs = now() - setupStart;
    await sleep(3_000);
    const session = await Session.open(ham.runDir);
    const status = await session.request("status", {});
    session.close();
    const proberPid = status.prober.pid;
    own(proberPid);
    const before = await (listener.send({}), message(listener, "connections", 5_000));
    const t0 = now();
    const [loadCpu, proberCpu] = await Promise.all([cpuShare(ham.pid, 3_000), cpuShare(proberPid, 3_000)]);
    const after = await (listener.send({}), message(listener, "connections", 5_000));
    const rate = ((after - before) * 1000) / (now() - t0);
    const loadRestart = await restarts(victim, kills);
    const loadBeat = await heartbeatMisses(ham, "l", clients, perClient);
    const failing = (await (async () => {
      const again = await Session.open(ham.runDir);
      try {
        return (await again.request("status", {})).probes.filter((row) => row.result !== "ok").length;
      } finally {
        again.close();
      }
    })());
    await api.ham_disconnect(0).catch(() => undefined);

    const row = (figures) => `p50 ${ms(figures.p50)}  p99 ${ms(figures.p99)}  max ${ms(figures.max)}`;
    printTable(`Probes off the event loop: ${probing} probing entities (tcp every 1 s, ${execs} also exec /bin/true every 1 s), same HAM, same run`, [
      ["restart, no probes", `${row(quietRestart)}  (${kills} kills)`],
      [`restart, ${probing} probing`, `${row(loadRestart)}  (${kills} kills)`],
      ["restart p50 / p99, probing ÷ none", `${ratio(loadRestart.p50, quietRestart.p50)} / ${ratio(loadRestart.p99, quietRestart.p99)}`],
      ["heartbeat miss noticed (HAM lateMs), no probes", `${row(quietBeat.ham)}  (${quietBeat.ham.n} misses)`],
      [`heartbeat miss noticed, ${probing} probing`, `${row(loadBeat.ham)}  (${loadBeat.ham.n} misses)`],
      ["heartbeat p50 / p99, probing ÷ none", `${ratio(loadBeat.ham.p50, quietBeat.ham.p50)} / ${ratio(loadBeat.ham.p99, quietBeat.ham.p99)}`],
      ["client's pulse lateness, none → probing", `p99 ${ms(quietBeat.client.p99)} → ${ms(loadBeat.client.p99)}  (pulses lost ${quietBeat.lost} → ${loadBeat.lost})`],
      ["probe checks seen by the listener", `${rate.toFixed(0)} connections/s; ${failing} probes not passing at the end`],
      ["HAM CPU, idle → probing", `${(quietCpu * 100).toFixed(1)} % → ${(loadCpu * 100).toFixed(1)} % of one core`],
      ["prober CPU, probing", `${(proberCpu * 100).toFixed(1)} % of one core`],
      [`setting ${probing} entities' probes up`, `${(setupMs / 1000).toFixed(1)} s (one client, one request at a time)`],
    ]);
    return { quietRestart, loadRestart, quietBeat, loadBeat };
  } finally {
    killAll();
    await ham.stop();
    fifo.close();
  }
}
