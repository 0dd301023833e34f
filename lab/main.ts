#!/usr/bin/env node
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stateDirOf } from "../lib/run-dir.js";
import { checkQuietMoment } from "./checks.js";
import { runCluster } from "./cluster-main.js";
import { Mutator, startBeater } from "./clients.js";
import { FAULT_WEIGHTS, FAULTS, type FaultKind } from "./faults.js";
import { GroupWatch } from "./group-watch.js";
import { defaultLoad, userLoad } from "./load.js";
import { parseLabArgs, replayArgs, USAGE, UsageError, type LabOptions } from "./options.js";
import { Random } from "./random.js";
import { formatReport, makeReport } from "./report.js";
import { Run, sleep } from "./run.js";
import { System } from "./system.js";

// `ham-lab`: the fault lab. See USAGE and lab/README.md.

async function main(): Promise<number> {
  let options: LabOptions;
  try {
    options = parseLabArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ham-lab: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.nodes !== null) return runCluster(options);
  const runDir = mkdtempSync(join(tmpdir(), "ham-lab-"));
  const marksFile = join(runDir, "staged.marks");
  const labSocket = join(runDir, "lab.sock");
  let load;
  try {
    load = options.config === null ? defaultLoad(options.entities, marksFile, labSocket) : userLoad(resolve(options.config));
  } catch (error) {
    process.stderr.write(`ham-lab: cannot read ${options.config}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const configPath = join(runDir, "lab-config.json");
  writeFileSync(configPath, `${JSON.stringify(load.config, null, 2)}\n`);
  const system = new System(runDir);
  const mountArgs = options.mount ? ["--mount", join(runDir, "view")] : ["--no-mount"];
  let run: Run | null = null;
  // Listening before the HAM starts the members: they report from their first moment.
  const group = load.group === null ? null : new GroupWatch(labSocket, load.group.name, load.group.members);
  const progress = setInterval(() => {
    if (run !== null && !options.json) process.stderr.write(`${progressLine(run)}\n`);
  }, 10_000);
  const stopOnSignal = () => {
    group?.close();
    cleanUp(system, run);
    process.exit(130);
  };
  process.on("SIGINT", stopOnSignal);
  process.on("SIGTERM", stopOnSignal);
  try {
    await group?.listen();
    system.start(["--config", configPath, ...mountArgs, "--watchdog-ms", String(options.watchdogMs), "-t", "absolute"]);
    const mounted = ((await system.names()) ?? []).includes("hamfs");
    run = new Run({ seed: options.seed, seconds: options.seconds, steps: options.steps, watchdogMs: options.watchdogMs, mount: mounted },
      system, new Random(options.seed), load, configPath, marksFile);
    const current = run;
    current.group = group;
    group?.attach(current);
    if (!options.json) {
      current.onViolation = (violation) => process.stderr.write(`ham-lab: VIOLATION at step ${violation.step} (${(violation.atMs / 1_000).toFixed(1)} s, ${new Date().toISOString()}) [${violation.invariant}] ${violation.detail}\n`);
    }
    current.beaters = Array.from({ length: options.clients }, (_, index) => startBeater(`client-${index + 1}`, runDir));
    current.mutator = new Mutator(runDir, options.seed);
    const attached = await current.until(() => current.beaters.every((beater) => beater.attached), 20_000, 20);
    if (!attached) throw new Error("the lab's clients did not attach within 20 s");
    if (!options.json) {
      process.stderr.write(`ham-lab: seed ${options.seed}, ${options.seconds} s, ${load.restartable.length} restartable entities, ` +
        `${options.clients} clients, ${load.group === null ? "" : `group ${load.group.name} (${load.group.members.join(", ")}), `}/ham view ${mounted ? "mounted" : notMounted(options, system)}, run directory ${runDir}\n`);
    }
    await torture(current, options);
    await Promise.race([Promise.all(current.watching), sleep(5_000)]);
    current.lastFaultEndMs = current.now();
    if (!current.lost) await checkQuietMoment(current);
  } catch (error) {
    process.stderr.write(`ham-lab: ${error instanceof Error ? error.message : String(error)}\n`);
    group?.close();
    cleanUp(system, run);
    return 1;
  } finally {
    clearInterval(progress);
  }
  const report = makeReport(run, replayArgs(options));
  group?.close();
  await stop(system);
  cleanUp(system, run);
  const failed = report.violations.length > 0;
  process.stdout.write(options.json ? `${JSON.stringify({ ...report, runDir, logKept: failed })}\n` : formatReport(report));
  if (failed) process.stderr.write(`ham-lab: the HAM's activity log is kept in ${join(runDir, "ham.log")}\n`);
  else rmSync(runDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

// Bursts of 3 to 8 faults, 50 ms to 1 s apart, each followed by a quiet moment and its checks.
async function torture(run: Run, options: LabOptions): Promise<void> {
  const endMs = options.seconds * 1_000;
  const weights = Object.fromEntries(Object.entries(FAULT_WEIGHTS).filter(([kind]) => options.faults?.includes(kind) ?? true)) as Record<FaultKind, number>;
  while (run.now() < endMs && !run.lost && (options.steps === null || run.step < options.steps)) {
    const burst = run.random.int(3, 8);
    for (let index = 0; index < burst && run.now() < endMs; index += 1) {
      if (options.steps !== null && run.step >= options.steps) break;
      await sleep(run.random.between(50, 1_000));
      const kind = run.random.weighted(weights);
      run.step += 1;
      const done = await FAULTS[kind](run);
      if (done !== null) run.count(kind);
      run.lastFaultEndMs = run.now();
    }
    await checkQuietMoment(run);
  }
}

function progressLine(run: Run): string {
  const faults = [...run.faults.values()].reduce((sum, n) => sum + n, 0);
  return `ham-lab: ${(run.now() / 1_000).toFixed(0)} s, step ${run.step}, ${faults} faults, ${run.checks} checks, ` +
    `${run.takeoverMs.length} takeovers, ${run.group === null ? "" : `${run.group.activeAgainMs.length + run.group.activeAgainDuringHamFaultMs.length} failovers, `}` +
    `${run.violations.length} violations`;
}

// Stops the HAM as a user would (ham_stop: the Guardian, then the HAM; the state removed).
async function stop(system: System): Promise<void> {
  const pid = system.hamPid();
  try {
    await system.ask("stop", {}, 2_000);
  } catch {
    // lost or already gone: the clean-up below ends what is left
  }
  const deadline = Date.now() + 5_000;
  while (pid > 0 && system.hamPid() === pid && Date.now() < deadline) await sleep(20);
}

// Ends every process this run started (by pid: each carries the run directory), unmounts the
// view and removes the shared state.
function cleanUp(system: System, run: Run | null): void {
  system.closeProbe();
  for (const beater of run?.beaters ?? []) beater.child.kill("SIGKILL");
  run?.mutator?.child.kill("SIGKILL");
  for (let round = 0; round < 3; round += 1) {
    for (const pid of system.everyProcess()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  system.unmountAll();
  rmSync(stateDirOf(system.runDir), { recursive: true, force: true });
}

process.exitCode = await main();
process.exit();

// "not mounted", and why when the view was asked for (no FUSE here: run with --no-mount).
function notMounted(options: LabOptions, system: System): string {
  const reason = options.mount ? system.noMountReason() : null;
  return reason === null ? "not mounted" : `not mounted (${reason}; --no-mount runs without it)`;
}
