import { afterEach, beforeEach } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "../../dist/lib/client/session.js";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { socketAnswers } from "../../dist/lib/wire/probe.js";
import { pidsWithEnv, PidKeeper } from "./processes.mjs";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const HAM_BIN = join(ROOT, "dist/ham/main.js");
export const HAMCTL_BIN = join(ROOT, "dist/lib/hamctl/main.js");
export const FIXTURES = join(ROOT, "test/fixtures");

// Waits for `check` to return a truthy value, polling; fails after `timeoutMs`.
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface HamInstance {
  readonly runDir: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  logLines(): Array<Record<string, unknown>>;
  // What the HAM (and a Guardian that took over: same stderr) wrote to stderr so far.
  stderr(): string;
  cat(path: string): Promise<string>;
  field(path: string, label: string): Promise<string>;
  stop(): Promise<void>;
}

const started = new Set<HamInstance>();
// Pids a test caused to exist (entities); killed only while they name the same process.
const spawnedPids = new PidKeeper();

// Remembers a pid a test caused to exist (entities), so cleanup can end it.
export function track(pid: number): number {
  return spawnedPids.add(pid);
}

// `logTo: "stderr"`: no -f, the log is on the HAM's stderr (a pipe: JSON lines unless
// --log-format says otherwise).
export async function startHam(extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}, { logTo = "file" }: { logTo?: "file" | "stderr" } = {}): Promise<HamInstance> {
  const runDir = mkdtempSync(join(tmpdir(), "hamd-test-"));
  const logFile = join(runDir, "activity.log");
  // "{RUN_DIR}" in an argument stands for the run directory made here.
  const args = extraArgs.map((arg) => arg.replaceAll("{RUN_DIR}", runDir));
  const logArgs = logTo === "file" ? ["-f", logFile] : [];
  const child = spawn(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", runDir, ...logArgs, "-V3", ...args], {
    stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await eventually(() => existsSync(join(runDir, "ham.sock")) || child.exitCode !== null, 10_000, "ham socket");
  if (child.exitCode !== null) throw new Error(`ham exited: ${stderr}`);
  // The socket file exists from bind(); a HAM descheduled before listen() still refuses.
  await eventually(() => socketAnswers(join(runDir, "ham.sock")), 10_000, "ham listening");
  const instance: HamInstance = {
    runDir,
    process: child,
    logFile,
    logLines: () => readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
    stderr: () => stderr,
    async cat(path) {
      const session = await Session.open(runDir);
      try {
        return String(await session.request("cat", { path }));
      } finally {
        session.close();
      }
    },
    async field(path, label) {
      const text = await instance.cat(path);
      const line = text.split("\n").find((row) => row.replace(/ +:/, " :").startsWith(`${label} :`) || row.startsWith(`${label}:`));
      if (line === undefined) throw new Error(`no ${label} in ${path}`);
      return line.slice(line.indexOf(":") + 1).trim();
    },
    async stop() {
      started.delete(instance);
      // End every process the HAM is watching for this test (QNX leaves them running).
      const session = await Session.open(runDir).catch(() => null);
      if (session !== null) {
        const root = (await session.request("ls", { path: "/" }).catch(() => ({ entries: [] }))) as { entries: Array<{ name: string; type: string }> };
        for (const entry of root.entries) {
          if (entry.type !== "dir" || entry.name.startsWith(".")) continue;
          const info = String(await session.request("cat", { path: `/${entry.name}/.info` }).catch(() => ""));
          track(Number(/Entity Pid *: (\d+)/.exec(info)?.[1] ?? 0));
        }
        session.close();
      }
      spawnedPids.killAll();
      // The HAM now serving may be a former Guardian: stop it and the one we started.
      // ham.pid may name a HAM long dead whose pid another test's process has since been given:
      // only a process whose command line names this run directory is ours.
      const hams = [...new Set([currentHamPid(runDir), child.pid ?? 0])].filter((pid) => pid > 0 && isAlive(pid) && commandLineOf(pid).includes(runDir));
      for (const pid of hams) process.kill(pid, "SIGTERM");
      await eventually(() => hams.every((pid) => !isAlive(pid)), 5_000, "ham exit").catch(() => {
        for (const pid of hams) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      });
      await killRunDir(runDir);
      unmountUnder(runDir);
      rmSync(runDir, { recursive: true, force: true });
      rmSync(stateDirOf(runDir), { recursive: true, force: true });
    },
  };
  started.add(instance);
  return instance;
}

// SIGKILLs every process carrying HAM_RUN_DIR=runDir (Guardians, entities, a HAM that took
// over), again and again until none is left: a Guardian whose HAM is killed in the same round
// may take over, or a HAM may fork a Guardian, between a listing and the kills.
export async function killRunDir(runDir: string): Promise<void> {
  for (let round = 0; round < 50; round += 1) {
    const pids = pidsWithEnv(`HAM_RUN_DIR=${runDir}`).filter((pid) => isAlive(pid));
    if (pids.length === 0 && round > 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A temporary directory for a test's own files; cleanup() removes it.
const scratch = new Set<string>();
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `hamd-${prefix}-`));
  scratch.add(dir);
  return dir;
}

// Ends every HAM and every tracked entity process a test started, and removes its directories.
export async function cleanup(): Promise<void> {
  spawnedPids.killAll();
  await Promise.all([...started].map((instance) => instance.stop()));
  // A scratch directory may have been a run directory (a HAM a test ran itself): its shared
  // state in /dev/shm goes with it.
  for (const dir of scratch) {
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDirOf(dir), { recursive: true, force: true });
  }
  scratch.clear();
}

// A FUSE mount a test left under `dir` (its server killed) is removed, lazily.
export function unmountUnder(dir: string): void {
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const mountPoint = line.split(" ")[1];
    if (mountPoint !== undefined && mountPoint.startsWith(`${dir}/`)) spawnSync("fusermount", ["-u", "-z", mountPoint]);
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return "";
  }
}

// The pid in RUN_DIR/ham.pid: the HAM serving the run directory now.
export function currentHamPid(runDir: string): number {
  try {
    return Number.parseInt(readFileSync(join(runDir, "ham.pid"), "utf8"), 10) || 0;
  } catch {
    return 0;
  }
}

export async function entityPid(ham: HamInstance, name: string): Promise<number> {
  return track(Number(await ham.field(`/${name}/.info`, "Entity Pid")));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z ");
  } catch {
    return false;
  }
}

// A fresh HAM for each test of the calling file, as the default HAM of the ham_* calls;
// every connection, HAM and process is ended after each test.
export function useHamPerTest(disconnect: () => Promise<unknown>): () => HamInstance {
  let current: HamInstance | undefined;
  beforeEach(async () => {
    current = await startHam();
    process.env["HAM_RUN_DIR"] = current.runDir;
  });
  afterEach(async () => {
    await disconnect().catch(() => undefined);
    await cleanup();
  });
  return () => {
    if (current === undefined) throw new Error("no HAM: useHamPerTest() runs before each test");
    return current;
  };
}
