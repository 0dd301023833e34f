// Shared parts of the benchmarks: a HAM in its own run directory, statistics, process
// figures read from /proc, and a FIFO that child processes report into.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, constants as fsConstants, readFileSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { pidsWithEnv, PidKeeper, startTimeOf } from "../test/helpers/processes.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../", import.meta.url).pathname;
export const HAM_BIN = join(ROOT, "dist/ham/main.js");
export const HAMCTL_BIN = join(ROOT, "dist/lib/hamctl/main.js");
const CLOCK_TICKS = 100; // USER_HZ on Linux

export const now = () => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC, ms, same in every process

export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Temporary directories not yet removed; `endSection` removes what a section left.
const scratch = new Set();
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `hamd-bench-${prefix}-`));
  scratch.add(dir);
  return dir;
}

// Removes a temporary directory, first detaching any mount left inside it.
function removeDir(dir) {
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const mountPoint = line.split(" ")[1];
    if (mountPoint?.startsWith(`${dir}/`)) spawnSync("fusermount", ["-u", "-z", mountPoint]);
  }
  rmSync(dir, { recursive: true, force: true });
  scratch.delete(dir);
}

// Pids a section started; `killAll` SIGKILLs those that still name that process.
const owned = new PidKeeper();
export const own = (pid) => owned.add(pid);
export { startTimeOf };
const runDirs = new Set();
// Ends every process a section started, including Guardians that took over and the
// processes of every HAM still running (all carry their HAM's HAM_RUN_DIR).
export const killAll = () => killCarrying(runDirs, owned);

// SIGKILLs, by pid, every process that carries this run directory (a HAM's Guardian and children).
export function killRunDir(runDir) {
  killCarrying([runDir], new PidKeeper());
}

// A Guardian forked between a scan of /proc and the kills would take over and fork another
// (a bench run left one behind, its run directory re-created): scan again, 20 ms after the
// kills, until a scan finds none (a killed process is a zombie by then, its environ empty).
function killCarrying(dirs, keeper) {
  for (let pass = 0; pass < 10; pass += 1) {
    let found = 0;
    for (const runDir of dirs) {
      for (const pid of pidsWithEnv(`HAM_RUN_DIR=${runDir}`)) {
        keeper.add(pid);
        found += 1;
      }
    }
    keeper.killAll();
    if (found === 0) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

// A temporary run directory for a HAM: `killAll` also ends every process that carries it
// (a HAM's Guardian and children), and `endSection` removes it with the HAM's state.
export function runDirFor(prefix) {
  const runDir = tempDir(prefix);
  runDirs.add(runDir);
  return runDir;
}

// Removes a run directory (after its HAM is gone): a /ham view still mounted in it, the
// HAM's state in /dev/shm, the directory.
export async function removeRunDir(runDir) {
  const { stateDirOf } = await import(join(ROOT, "dist/ham/adapters/store.js"));
  rmSync(stateDirOf(runDir), { recursive: true, force: true });
  removeDir(runDir);
  runDirs.delete(runDir);
}

// After every section, passed or failed: ends every process it started (by pid) and removes
// the run directories (with their HAMs' states) and temporary directories it left.
export async function endSection() {
  killAll();
  for (const runDir of [...runDirs]) await removeRunDir(runDir);
  for (const dir of [...scratch]) removeDir(dir);
}

// A HAM in the foreground, logging to a file in its own run directory.
export async function startHam(extraArgs = []) {
  const runDir = runDirFor("ham");
  const logFile = join(runDir, "activity.log");
  // Run as a user runs it: the bin itself, whose shebang carries the HAM's node flags.
  // "{RUN_DIR}" in an argument stands for the run directory made here.
  const args = extraArgs.map((arg) => arg.replaceAll("{RUN_DIR}", runDir));
  const child = spawn(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", runDir, "-f", logFile, ...args], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  own(child.pid);
  await waitFor(() => existsSync(join(runDir, "ham.sock")) || child.exitCode !== null, 10_000, "the HAM's socket");
  // The socket file exists from bind(); a HAM descheduled before listen() still refuses.
  const { socketAnswers } = await import(join(ROOT, "dist/lib/wire/probe.js"));
  await waitFor(() => socketAnswers(join(runDir, "ham.sock")), 10_000, "the HAM listening");
  if (child.exitCode !== null) throw new Error(`ham exited with ${child.exitCode}`);
  process.env.HAM_RUN_DIR = runDir;
  return {
    runDir,
    pid: child.pid,
    logFile,
    logLines: () => readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line)),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5_000, "ham exit").catch(() => child.kill("SIGKILL"));
      }
      // A Guardian that took over, and every process a HAM started, carry HAM_RUN_DIR.
      for (const pid of pidsWithEnv(`HAM_RUN_DIR=${runDir}`)) own(pid);
      killAll();
      await removeRunDir(runDir);
    },
  };
}

// Nearest-rank percentiles of a list of numbers.
export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { n: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1], mean };
}

export const ms = (value) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
export const us = (valueMs) => `${Math.round(valueMs * 1000)} µs`;
export const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const ratio = (value, base) => `${(value / base).toFixed(2)}×`;

export function rssBytes(pid) {
  const line = readFileSync(`/proc/${pid}/status`, "latin1").split("\n").find((row) => row.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) * 1024;
}

// CPU time (user + system) a process has used, in ms.
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

// Share of one core a process used over `windowMs`.
export async function cpuShare(pid, windowMs) {
  const cpu0 = cpuMs(pid);
  const t0 = now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  return (cpuMs(pid) - cpu0) / (now() - t0);
}

// A named pipe that child processes write lines into; `next()` resolves with the next
// line and the monotonic time it arrived. Opened read-write so it never sees EOF.
export function openFifo(dir, name) {
  const path = join(dir, name);
  execFileSync("mkfifo", ["-m", "0600", path]);
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  const lines = [];
  const waiters = [];
  let buffered = "";
  socket.on("data", (chunk) => {
    const at = now();
    buffered += chunk.toString("latin1");
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = { text: buffered.slice(0, newline), at };
      buffered = buffered.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  return {
    path,
    next(timeoutMs = 5_000) {
      const line = lines.shift();
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const waiter = (value) => {
          clearTimeout(timer);
          resolve(value);
        };
        // A waiter that timed out leaves the queue: a line written later goes to the next one.
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`nothing written to ${name} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () => socket.destroy(),
  };
}

// Wall time of running a command to completion, in ms.
export function timeRun(file, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "inherit"], env });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(now() - t0) : reject(new Error(`${file} ${args.join(" ")} exited ${code}`))));
  });
}

export function printTable(title, rows) {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}
