// The Prometheus endpoint (`ham --metrics`): a scrape of a HAM with 1,000 entities (each a real
// `sleep` with a death condition and a restart action), its wall time over HTTP and how long it
// held the HAM's event loop (the HAM's own nodejs_eventloop_lag_max_seconds at the next scrape:
// the longest wait of its 10 ms loop-delay timer since the scrape before), against a `status`
// request (which walks every entity too) in the same run; and the CPU an idle HAM uses with and
// without --metrics.
import { createServer } from "node:net";
import { join } from "node:path";
import { cpuShare, ms, printTable, ratio, ROOT, startHam, stats } from "./lib.mjs";

const ENTITIES = Number(process.env.BENCH_METRICS_ENTITIES ?? 1_000);
const SCRAPES = 20;
const GAP_MS = 250;
const IDLE_WINDOW_MS = 10_000;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const pause = (delay) => new Promise((resolve) => setTimeout(resolve, delay));

function sampleOf(text, name) {
  const line = text.split("\n").find((row) => row.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(" ")[1]);
}

async function populate(api, count) {
  await api.ham_connect(0);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const name = `e${next++}`;
      const entity = await api.ham_attach(name, 0, -1, "/bin/sleep 100000", 0);
      const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
      await api.ham_action_restart(death, "restart", "/bin/sleep 100000", api.HREARMAFTERRESTART);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function scrapeFigures(api, Session) {
  const port = await freePort();
  // No watchdog: on a loaded machine a HAM spawning 1,000 processes may miss its Guardian's 1 s
  // ping, and a takeover in the middle would measure something else.
  const ham = await startHam(["--metrics", `127.0.0.1:${port}`, "--watchdog-ms", "0"]);
  try {
    await populate(api, ENTITIES);
    const url = `http://127.0.0.1:${port}/metrics`;
    const walls = [];
    const lags = [];
    let bytes = 0;
    let samples = 0;
    // The first scrape resets the loop-delay histogram after the population's work.
    await (await fetch(url)).text();
    for (let i = 0; i < SCRAPES; i += 1) {
      await pause(GAP_MS);
      const t0 = performance.now();
      const text = await (await fetch(url)).text();
      walls.push(performance.now() - t0);
      // Covers the scrape before this one (and the quiet gap): its render is the loop's longest wait.
      lags.push(sampleOf(text, "nodejs_eventloop_lag_max_seconds") * 1000);
      bytes = text.length;
      samples = text.split("\n").filter((line) => line.startsWith("hamd_")).length;
    }
    const session = await Session.open(ham.runDir);
    const statusTimes = [];
    for (let i = 0; i < SCRAPES; i += 1) {
      await pause(GAP_MS / 5);
      const t0 = performance.now();
      await session.request("status", {});
      statusTimes.push(performance.now() - t0);
    }
    session.close();
    await api.ham_disconnect(0);
    return { walls: stats(walls), lags: stats(lags), statusTimes: stats(statusTimes), bytes, samples };
  } finally {
    await ham.stop();
  }
}

async function idleCpu(withMetrics) {
  const args = withMetrics ? ["--metrics", `127.0.0.1:${await freePort()}`] : [];
  const ham = await startHam(args);
  try {
    await pause(3_000);
    return await cpuShare(ham.pid, IDLE_WINDOW_MS);
  } finally {
    await ham.stop();
  }
}

export async function metricsFigures() {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const { walls, lags, statusTimes, bytes, samples } = await scrapeFigures(api, Session);
  const idleWithout = await idleCpu(false);
  const idleWith = await idleCpu(true);
  printTable(`Prometheus endpoint: a scrape of ${ENTITIES} entities (${samples} hamd_ samples, ${Math.round(bytes / 1024)} KB), ${SCRAPES} scrapes`, [
    ["scrape over HTTP, wall p50 / p90 / max", `${ms(walls.p50)} / ${ms(walls.p90)} / ${ms(walls.max)}`],
    ["event loop held (lag max at the next scrape) p50 / max", `${ms(lags.p50)} / ${ms(lags.max)}`],
    ["baseline: a status request, wall p50 / max", `${ms(statusTimes.p50)} / ${ms(statusTimes.max)}`],
    ["scrape / status (p50)", ratio(walls.p50, statusTimes.p50)],
    ["idle HAM CPU without / with --metrics", `${(idleWithout * 100).toFixed(2)} % / ${(idleWith * 100).toFixed(2)} % of a core`],
  ]);
}
