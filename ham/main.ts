#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// --max-semi-space-size=1 caps V8's young generation at 1 MB per semi-space: the HAM allocates
// little, and the default (up to 16 MB, kept once grown) costs ~20 MB of RSS at 10,000 entities.
// --optimize-for-size: V8 grows the heap less eagerly; a HAM idle at 10,000 entities × 3 × 3
// took 117 MB of RSS with it, 156-166 MB without (README, "Benchmarks").
import { spawn } from "node:child_process";
import { fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketPathOf } from "../lib/run-dir.js";
import { HAM_NODE_FLAGS } from "./adapters/guardian-link.js";
import { Ham } from "./daemon/ham.js";
import { exitProcess, stopOnSignals } from "./daemon/process-end.js";
import { AlreadyRunning, prepareRunDir, runningPid } from "./adapters/instance-lock.js";
import { parseHamArgs, USAGE, UsageError, type CliOptions } from "./daemon/options.js";
import { ClusterConfigError } from "./daemon/cluster-options.js";
import { MetricsConfigError } from "./daemon/metrics-options.js";
import { socketAnswers } from "../lib/wire/probe.js";
import { Session } from "../lib/client/session.js";
import { notifyNow, sameCgroup, takeSystemdEnv } from "./adapters/systemd-notify.js";
import type { SystemdOptions } from "./daemon/ham-options.js";


// `ham`: starts a HAM. In the foreground it runs here (Ctrl-C, or its terminal closing, stops
// it); otherwise it starts a detached copy of itself, waits until the socket answers, and exits
// 0 silently.

function die(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function runForeground(options: CliOptions): Promise<void> {
  // Taken out of the environment before anything is started (the Guardian gets it in its options).
  const systemd = takeSystemdEnv(process.env, process.pid);
  const ham = new Ham({
    runDir: options.runDir, logFile: options.logFile, timestamps: options.timestamps, logFormat: options.logFormat, logColor: options.logColor,
    verbosity: options.verbosity, configFile: options.configFile, mount: options.mount, fresh: options.fresh, gid: options.gid,
    watchdogMs: options.watchdogMs, cluster: options.cluster, systemd, metrics: options.metrics,
  });
  process.on("SIGPIPE", () => undefined);
  stopOnSignals(ham);
  try {
    await ham.start();
  } catch (error) {
    if (error instanceof AlreadyRunning) {
      if (systemd !== null && handOver(systemd, error)) process.exit(0);
      die(error.message);
    }
    die(`ham: ${error instanceof Error ? error.message : String(error)}`);
  }
  await ham.stopped;
  exitProcess(0);
}

// systemd starting its unit again finds the HAM that a Guardian made of itself when the HAM it
// started was killed (systemd had seen its main process die and restarted the unit). That HAM
// belongs to the unit (same cgroup): the unit is handed over to it (MAINPID=, READY=1, read by
// systemd before this process exits), so `systemctl stop` and the watchdog follow it, instead of
// a restart that fails with "already running" every RestartSec.
function handOver(systemd: SystemdOptions, running: AlreadyRunning): boolean {
  if (!sameCgroup(running.pid)) return false;
  if (!notifyNow(systemd, [`MAINPID=${running.pid}`, "READY=1", `STATUS=following the HAM (pid ${running.pid}) that took over`])) return false;
  process.stderr.write(`ham: already running (pid ${running.pid}) in ${running.runDir}: systemd's unit follows that HAM now (MAINPID=${running.pid})\n`);
  return true;
}

async function runDaemon(options: CliOptions, argv: readonly string[]): Promise<void> {
  prepareRunDir(options.runDir, options.gid);
  const pid = await runningPid(options.runDir);
  if (pid !== null) die(new AlreadyRunning(pid, options.runDir).message);
  const logFile = options.logFile ?? join(options.runDir, "ham.log");
  const err = openSync(logFile, "a", 0o600);
  const logStart = fstatSync(err).size;
  const script = fileURLToPath(import.meta.url);
  // Under a Type=notify unit the HAM forked here becomes the unit's main process (it sends
  // MAINPID= with READY=1): the watchdog systemd meant for this process (WATCHDOG_PID) is its.
  const systemd = takeSystemdEnv({ ...process.env }, process.pid);
  const env = { ...process.env };
  if (env["WATCHDOG_PID"] === String(process.pid)) delete env["WATCHDOG_PID"];
  const child = spawn(process.execPath, [...HAM_NODE_FLAGS, script, ...argv, "--foreground", "-f", logFile], {
    detached: true, stdio: ["ignore", "ignore", err], env,
  });
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? 1;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    if (await socketAnswers(socketPathOf(options.runDir))) {
      // Up means protected: wait until a ready Guardian stands behind the HAM.
      const guarded = await guardianReady(options.runDir, deadline);
      child.unref();
      // Read by systemd before this process (the unit's main one until then) exits.
      if (systemd !== null && child.pid !== undefined) notifyNow(systemd, [`MAINPID=${child.pid}`]);
      if (!guarded) process.stderr.write(`ham: running, but no Guardian became ready within 10 s (the HAM is unprotected), see ${logFile}\n`);
      process.exit(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Give the child's own message (for example "already running") a moment to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  // The child's own one line (node already held, etcd unreachable) is the answer when it gave one.
  const own = exited === 1 ? ownLine(logFile, logStart) : null;
  if (own !== null) die(own);
  die(exited === 1 ? `ham: not started, see ${logFile}` : `ham: the HAM did not answer within 10 s, see ${logFile}`);
}

// The last `ham: ...` line the child wrote to the log since `offset`.
function ownLine(logFile: string, offset: number): string | null {
  try {
    const lines = readFileSync(logFile).subarray(offset).toString("utf8").split("\n");
    return lines.filter((line) => line.startsWith("ham: ")).pop() ?? null;
  } catch {
    return null;
  }
}

// Whether the HAM's status names a ready Guardian before `deadline` (Date.now()).
async function guardianReady(runDir: string, deadline: number): Promise<boolean> {
  const session = await Session.open(runDir).catch(() => null);
  if (session === null) return false;
  try {
    while (Date.now() < deadline) {
      const status = (await session.request("status", {}, Math.max(1, deadline - Date.now()))) as { guardianPid: number };
      if (status.guardianPid > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  } catch {
    return false;
  } finally {
    session.close();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let options: CliOptions;
  try {
    options = parseHamArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) die(`ham: ${error.message}\n${USAGE}`, 2);
    if (error instanceof ClusterConfigError || error instanceof MetricsConfigError) die(`ham: ${error.message}`);
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (options.foreground) await runForeground(options);
  else await runDaemon(options, argv);
}

void main();
