// `npm run bench [-- SECTION...]`: prints every figure next to a baseline measured in the
// same run. Sections: restart, heartbeat, api, memory (default: all).
import { killAll } from "./lib.mjs";
import { apiFigures } from "./api.mjs";
import { coverFigures } from "./cover.mjs";
import { fsFigures } from "./fs.mjs";
import { heartbeatLateness } from "./heartbeat.mjs";
import { memoryFigures } from "./memory.mjs";
import { restartLatency } from "./restart.mjs";
import { takeoverFigures } from "./takeover.mjs";

const SECTIONS = {
  restart: () => restartLatency(),
  heartbeat: () => heartbeatLateness(),
  api: () => apiFigures(),
  takeover: () => takeoverFigures(),
  fs: () => fsFigures(),
  cover: () => coverFigures(),
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
console.log(`hamd benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const name of names) await SECTIONS[name]();
process.exit(0);
