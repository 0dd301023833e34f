// `npm run bench [-- SECTION...]`: prints every figure next to a baseline measured in the
// same run (default: every section). A section that fails is reported in one line and the
// run goes on; every process it started is ended by pid. Exit code 1 if any section failed.
import { endSection, killAll } from "./lib.mjs";
import { apiFigures } from "./api.mjs";
import { ckptFigures } from "./ckpt.mjs";
import { clusterFigures } from "./cluster.mjs";
import { clusterGroupFigures } from "./cluster-groups.mjs";
import { clusterCheckpointFigures } from "./cluster-checkpoints.mjs";
import { coverFigures } from "./cover.mjs";
import { crashLoopFigures } from "./crashloop.mjs";
import { fsFigures } from "./fs.mjs";
import { groupFigures } from "./groups.mjs";
import { haCounterFigures } from "./hacounter.mjs";
import { heartbeatLateness } from "./heartbeat.mjs";
import { labFigures } from "./lab.mjs";
import { memoryFigures } from "./memory.mjs";
import { probeFigures } from "./probes.mjs";
import { metricsFigures } from "./metrics.mjs";
import { remoteFigures } from "./remote.mjs";
import { reprotectFigures } from "./reprotect.mjs";
import { restartLatency } from "./restart.mjs";
import { takeoverFigures } from "./takeover.mjs";

const SECTIONS = {
  restart: () => restartLatency(),
  crashloop: () => crashLoopFigures({ kills: Number(process.env.BENCH_CRASHLOOP_KILLS ?? 30) }),
  heartbeat: () => heartbeatLateness(),
  api: () => apiFigures(),
  takeover: () => takeoverFigures(),
  reprotect: () => reprotectFigures(),
  groups: () => groupFigures(),
  "cluster-groups": () => clusterGroupFigures({ kills: Number(process.env.BENCH_CLUSTER_KILLS ?? 20), switchovers: Number(process.env.BENCH_SWITCHOVERS ?? 10), nodeDeaths: Number(process.env.BENCH_NODE_DEATHS ?? 4), leaderKills: Number(process.env.BENCH_LEADER_KILLS ?? 5) }),
  hacounter: () => haCounterFigures({ seconds: Number(process.env.BENCH_HACOUNTER_SECONDS ?? 60), seed: Number(process.env.BENCH_SEED ?? 1) }),
  lab: () => labFigures({ seconds: Number(process.env.BENCH_LAB_SECONDS ?? 60) }),
  fs: () => fsFigures(),
  cover: () => coverFigures(),
  ckpt: () => ckptFigures(),
  remote: () => remoteFigures(),
  "cluster-checkpoints": () => clusterCheckpointFigures(),
  cluster: () => clusterFigures(),
  probes: () => probeFigures({ kills: Number(process.env.BENCH_PROBE_KILLS ?? 40), probing: Number(process.env.BENCH_PROBING ?? 1_000) }),
  metrics: () => metricsFigures(),
  memory: () => memoryFigures({ large: Number(process.env.BENCH_ENTITIES ?? 10_000) }),
};

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
for (const name of names) {
  const section = SECTIONS[name];
  if (section === undefined) {
    console.error(`bench: unknown section ${name} (known: ${Object.keys(SECTIONS).join(", ")})`);
    process.exit(2);
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

const failed = new Set();
let current = "(between sections)";
function reportFailure(name, error) {
  failed.add(name);
  const message = error instanceof Error ? error.message : String(error);
  console.log(`\nbench: section ${name} FAILED: ${message.replace(/\s*\n\s*/g, " | ")}`);
  if (process.env.BENCH_STACKS === "1" && error instanceof Error) console.error(error.stack);
}
// A stray rejection or exception (a callback a section left behind) fails the section under
// way instead of ending the run.
process.on("unhandledRejection", (error) => reportFailure(current, error));
process.on("uncaughtException", (error) => reportFailure(current, error));

console.log(`hamd benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const name of names) {
  current = name;
  try {
    await SECTIONS[name]();
  } catch (error) {
    reportFailure(name, error);
  } finally {
    await endSection().catch((error) => reportFailure(name, error));
  }
}
current = "(after the last section)";
if (failed.size > 0) {
  console.log(`\nbench: ${failed.size} of ${names.length} sections failed: ${[...failed].join(", ")}`);
  process.exit(1);
}
process.exit(0);
