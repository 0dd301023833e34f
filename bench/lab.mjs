// Takeover and re-protection under the fault lab's load: `ham-lab` for 60 s (seed 1; 50
// restartable entities, 10 heartbeating clients, a crash loop, a mutating client, the view
// when FUSE is here), its report's figures. Baseline from the same run: a cold `ham` start in
// the foreground → first answer (7 starts), measured before the lab.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { endSection, ms, own, printTable, ratio, ROOT } from "./lib.mjs";
import { coldStart } from "./takeover.mjs";

function runLab(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "dist/lab/main.js"), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    own(child.pid);
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("exit", (code) => {
      try {
        resolve({ code, report: JSON.parse(out) });
      } catch (error) {
        reject(new Error(`ham-lab exited ${code} without a report: ${error.message}`));
      }
    });
  });
}

const fig = (f) => (f.count === 0 ? "none" : `p50 ${ms(f.p50)}  p99 ${ms(f.p99)}  max ${ms(f.max)} (n=${f.count})`);

export async function labFigures({ seconds = 60 } = {}) {
  try {
    const cold = await coldStart(7);
    const { code, report } = await runLab(["--seconds", String(seconds), "--seed", "1", "--json"]);
    const faults = Object.values(report.faults).reduce((sum, n) => sum + n, 0);
    printTable(`Under the fault lab's load (ham-lab --seconds ${seconds} --seed 1: ${faults} faults, ${report.hamDeaths} HAM deaths, ${report.violations.length} violations, exit ${code})`, [
      ["cold `ham` start → first answer (baseline)", `p50 ${ms(cold.p50)}  p99 ${ms(cold.p99)}  (${cold.n} starts)`],
      ["takeover: HAM killed → a new HAM answers", `${fig(report.takeoverMs)}; p50 ${ratio(report.takeoverMs.p50 ?? 0, cold.p50)} of a cold start`],
      ["  the same, its Guardian still starting", fig(report.takeoverStartingMs)],
      ["re-protection: answers → its Guardian ready", `${fig(report.reprotectMs)}; p50 ${ratio(report.reprotectMs.p50 ?? 0, cold.p50)} of a cold start (goal ≤ 1×)`],
      ["healthy entity restart beside a crash loop", fig(report.restartMs)],
    ]);
    return { cold, report };
  } finally {
    await endSection();
  }
}
