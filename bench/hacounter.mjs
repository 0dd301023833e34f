// examples/ha-counter's availability as its client sees it, under random kills: the same seeded
// schedule (the fault lab's generator) of kill -9 of the serving counter (most faults) and of
// the HAM itself, applied to two HAMs side by side: one with the 2N group (ha-counter.yaml) and
// one that only restarts its single counter (restart-only.yaml). Each has its client asking
// every 5 ms; availability = time with answers / time. Both run at once on the same machine.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, own, printTable, ROOT, startHam, tempDir, waitFor } from "./lib.mjs";

const setups = [
  { name: "2N group", file: "ha-counter.yaml", serving: "group" },
  { name: "restart only", file: "restart-only.yaml", serving: "counter" },
];

function configFor(file, dir) {
  const { parse } = yaml;
  const config = parse(readFileSync(join(ROOT, "examples/ha-counter", file), "utf8"));
  for (const entity of config.entities) entity.command = entity.command.replace("node examples/", `${process.execPath} ${ROOT}examples/`);
  const path = join(dir, file.replace(/\.yaml$/, ".json"));
  writeFileSync(path, JSON.stringify(config));
  return path;
}
const yaml = await import("yaml");

function startClient(runDir, seconds) {
  const child = spawn(process.execPath, [join(ROOT, "examples/ha-counter/client.mjs"), String(seconds), "--json"], {
    env: { ...process.env, HAM_RUN_DIR: runDir }, stdio: ["ignore", "pipe", "inherit"],
  });
  own(child.pid);
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  return new Promise((resolve) => child.on("exit", () => resolve(JSON.parse(out.trim()))));
}

export async function haCounterFigures({ seconds = 60, seed = 1 } = {}) {
  const { Random } = await import(join(ROOT, "dist/lab/random.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const dir = tempDir("hacounter");
  const hams = [];
  try {
    for (const setup of setups) hams.push({ setup, ham: await startHam(["--config", configFor(setup.file, dir)]) });
    const ask = async (ham, op, args = {}) => {
      const session = await Session.open(ham.runDir, 2_000, false);
      try {
        return await session.request(op, args, 2_000);
      } finally {
        session.close();
      }
    };
    const servingPid = async ({ setup, ham }) => {
      const rows = await ask(ham, "ps").catch(() => []);
      const name = setup.serving === "group" ? (await ask(ham, "status").catch(() => ({ groups: [] }))).groups[0]?.active[0] : "counter";
      return rows.find((row) => row.name === name)?.pid ?? 0;
    };
    for (const entry of hams) await waitFor(() => servingPid(entry), 15_000, `${entry.setup.name} serving`);
    const clients = hams.map(({ ham }) => startClient(ham.runDir, seconds));
    const random = new Random(seed);
    const faults = { counter: 0, ham: 0 };
    const end = Date.now() + seconds * 1_000 - 1_000;
    while (Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, random.between(500, 3_000)));
      const killHam = random.next() < 0.2;
      for (const entry of hams) {
        const pid = killHam ? Number(readFileSync(join(entry.ham.runDir, "ham.pid"), "utf8")) : await servingPid(entry);
        if (pid > 0) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone already
          }
        }
      }
      faults[killHam ? "ham" : "counter"] += 1;
    }
    const summaries = await Promise.all(clients);
    const rows = [];
    for (const [index, { setup, ham }] of hams.entries()) {
      const summary = summaries[index];
      const total = seconds * 1_000;
      const percent = (100 * (total - summary.unansweredMs)) / total;
      const status = await ask(ham, "status").catch(() => null);
      const hamFigure = setup.serving === "group" ? status?.groups?.[0]?.availabilityPercent : (await ask(ham, "ps").catch(() => [])).find((row) => row.name === "counter")?.availabilityPercent;
      rows.push([`${setup.name}: client`, `${percent.toFixed(3)} % answered; ${summary.gaps} gaps, longest ${summary.longestGapMs} ms, ${summary.unansweredMs} ms unanswered; ${summary.lostCounts} counts lost`]);
      rows.push([`${setup.name}: the HAM's figure`, `${hamFigure ?? "-"} % (${setup.serving === "group" ? "the group's" : "the counter's"})`]);
    }
    printTable(`examples/ha-counter under random kills, ${seconds} s, seed ${seed}: ${faults.counter} kills of the serving counter, ${faults.ham} of the HAM`, rows);
  } finally {
    killAll();
    for (const { ham } of hams) await ham.stop();
  }
}
