import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isSameProcessAlive } from "./processes.js";
import { socketAnswers } from "../../lib/wire/probe.js";

// One HAM per run directory. The pid file is created exclusively; a pid file or socket
// left by a dead HAM is removed silently; a live one makes the start fail.
export class AlreadyRunning extends Error {
  constructor(readonly pid: number, readonly runDir: string) {
    super(`ham: already running (pid ${pid}) in ${runDir}`);
  }
}

// 0700, or 0750 with the group of --group.
export function prepareRunDir(runDir: string, gid: number | null = null): void {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const stat = statSync(runDir);
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) {
    throw new Error(`ham: run directory ${runDir} is owned by uid ${stat.uid}, not by us`);
  }
  if (gid !== null) chownSync(runDir, stat.uid, gid);
  chmodSync(runDir, gid === null ? 0o700 : 0o750);
}

function readPid(path: string): number {
  try {
    return Number.parseInt(readFileSync(path, "utf8"), 10) || 0;
  } catch {
    return 0;
  }
}

function alive(pid: number): boolean {
  return pid > 0 && isSameProcessAlive(pid, null);
}

// `takeover`: the caller is a Guardian whose HAM's main thread is dead. Its other threads may
// live on (one blocked in a FUSE request to the view, which waits for the dead HAM: seen for
// 10 s) and keep its listening socket answering connects: the socket path is simply taken.
export async function acquireInstance(runDir: string, takeover = false): Promise<{ pidFile: string; socketPath: string }> {
  const pidFile = join(runDir, "ham.pid");
  const socketPath = join(runDir, "ham.sock");
  if (takeover) {
    for (const path of [pidFile, socketPath]) if (existsSync(path)) unlinkSync(path);
    const fd = openSync(pidFile, "wx", 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return { pidFile, socketPath };
  }
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(pidFile, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (await socketAnswers(socketPath)) {
        unlinkSync(pidFile);
        throw new AlreadyRunning(0, runDir);
      }
      if (existsSync(socketPath)) unlinkSync(socketPath);
      return { pidFile, socketPath };
    } catch (error) {
      if (error instanceof AlreadyRunning) throw error;
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = readPid(pidFile);
      if (alive(pid) && pid !== process.pid) throw new AlreadyRunning(pid, runDir);
      // Stale: the HAM that wrote it is gone.
      try {
        unlinkSync(pidFile);
      } catch {
        // another starter removed it first
      }
    }
  }
  throw new AlreadyRunning(readPid(pidFile), runDir);
}

export function releaseInstance(files: { pidFile: string; socketPath: string }): void {
  for (const path of [files.socketPath, files.pidFile]) {
    try {
      if (path === files.pidFile && readPid(path) !== process.pid) continue;
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

// The pid of the HAM serving runDir, or null when none is alive there.
export async function runningPid(runDir: string): Promise<number | null> {
  const pid = readPid(join(runDir, "ham.pid"));
  if (!alive(pid)) return null;
  return (await socketAnswers(join(runDir, "ham.sock"))) ? pid : null;
}
