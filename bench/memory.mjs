// Memory and listing: RSS of the HAM idle with 50 entities and with 10,000 entities of
// 3 conditions × 3 actions (every entity a real `sleep` process the HAM started), and the
// wall time of `hamctl ls /` at 10,000 entities. Baselines: an idle bare Node process's RSS
// and the start-up time of `node -e 0`, measured in the same run.
import { fork } from "node:child_process";
import { join } from "node:path";
import { killAll, mb, ms, own, printTable, ratio, rssBytes, ROOT, HAMCTL_BIN, startHam, stats, timeRun } from "./lib.mjs";

// Idle: V8 shrinks its heap some 8–10 s after allocation stops (its memory reducer).
const SETTLE_MS = 15_000;
const LS_RUNS = 7;
const CONCURRENCY = 64;

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

async function idleNodeRss() {
  const child = fork(join(ROOT, "bench/idle.mjs"));
  own(child.pid);
  await new Promise((resolve) => child.once("message", resolve));
  await settle();
  const rss = rssBytes(child.pid);
  child.kill("SIGKILL");
  return rss;
}

// Runs `task(i)` for i in [0, count) with at most CONCURRENCY in flight.
async function pool(count, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function populate(api, count, withConditions) {
  await pool(count, async (i) => {
    const entity = await api.ham_attach(`e${i}`, 0, -1, "/bin/sleep 100000", 0);
    if (!withConditions) return;
    for (const [type, cname] of [[api.CONDDEATH, "death"], [api.CONDABNORMALDEATH, "abnormal"], [api.CONDRESTART, "restart"]]) {
      const condition = await api.ham_condition(entity, type, cname, 0);
      await api.ham_action_log(condition, "log", `e${i} ${cname}`, 1, 0, 0);
      await api.ham_action_execute(condition, "report", `/bin/true e${i} ${cname}`, 0);
      await api.ham_action_notify_signal(condition, "tell", 0, process.pid, "SIGUSR1", 0, 0, 0);
    }
  });
}

async function lsTimes(runDir) {
  const samples = [];
  for (let i = 0; i < LS_RUNS; i += 1) samples.push(await timeRun(process.execPath, [HAMCTL_BIN, "--run-dir", runDir, "ls", "/"]));
  return stats(samples);
}

async function nodeStartup() {
  const samples = [];
  for (let i = 0; i < LS_RUNS; i += 1) samples.push(await timeRun(process.execPath, ["-e", "0"]));
  return stats(samples);
}

async function measure(api, count, withConditions, withLs = false) {
  const ham = await startHam();
  try {
    await api.ham_connect(0);
    const t0 = performance.now();
    await populate(api, count, withConditions);
    const buildMs = performance.now() - t0;
    await settle();
    const rss = rssBytes(ham.pid);
    const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
    const session = await Session.open(ham.runDir);
    const { heapUsedBytes: heap, heapTotalBytes: heapTotal, externalBytes: external } = await session.request("status", {});
    session.close();
    const ls = withLs ? await lsTimes(ham.runDir) : null;
    await api.ham_disconnect(0);
    return { rss, heap, heapTotal, external, ls, buildMs };
  } finally {
    await ham.stop();
  }
}

export async function memoryFigures({ large = 10_000 } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  try {
    const idle = await idleNodeRss();
    const startup = await nodeStartup();
    const empty = await measure(api, 0, false);
    const small = await measure(api, 50, true);
    const big = await measure(api, large, true, true);
    printTable(`Memory and listing (RSS after ${SETTLE_MS / 1000} s idle)`, [
      ["idle bare Node process (baseline)", mb(idle)],
      ["HAM, no entities", `${mb(empty.rss)} (${ratio(empty.rss, idle)} of baseline)`],
      ["HAM, 50 entities, 3 cond × 3 actions", `${mb(small.rss)}, heap ${mb(small.heap)} (goal ≤ 50 MB; PM2's daemon 54–72 MB)`],
      [`HAM, ${large.toLocaleString("en")} entities, 3 × 3`, `${mb(big.rss)}, heap ${mb(big.heap)} used of ${mb(big.heapTotal)}, external ${mb(big.external)} (goal ≤ 150 MB); built through the API in ${(big.buildMs / 1000).toFixed(1)} s`],
      ["node -e 0 (baseline)", `p50 ${ms(startup.p50)}  max ${ms(startup.max)}  (${LS_RUNS} runs)`],
      [`hamctl ls / at ${large.toLocaleString("en")}`, `p50 ${ms(big.ls.p50)}  max ${ms(big.ls.max)}  (goal ≤ 200 ms; ${ms(big.ls.p50 - startup.p50)} above node start-up)`],
    ]);
    return { idle, empty, small, big, startup };
  } finally {
    killAll();
  }
}
