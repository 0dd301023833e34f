import { statSync } from "node:fs";
import { describeWaitStatus, readProcStat, type ExitInfo } from "./processes.js";

// Death detection for processes the HAM did not spawn: one interval, armed only while
// some pid is watched, reads /proc/PID/stat (start time as identity; a zombie is dead).
// How it died is known only while it is a zombie nobody reaped yet: null otherwise.
export class PidPoller {
  private readonly watched = new Map<number, { startTime: number | null; onDeath: (exit: ExitInfo | null) => void }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs: number) {}

  watch(pid: number, startTime: number | null, onDeath: (exit: ExitInfo | null) => void): void {
    this.watched.set(pid, { startTime, onDeath });
    if (this.timer === null) this.timer = setInterval(() => this.poll(), this.intervalMs);
  }

  unwatch(pid: number): void {
    this.watched.delete(pid);
    if (this.watched.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  stop(): void {
    this.watched.clear();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(): void {
    for (const [pid, entry] of this.watched) {
      const stat = readProcStat(pid);
      const same = stat !== null && (entry.startTime === null || stat.startTime === entry.startTime);
      if (same && stat.state !== "Z" && stat.state !== "X") continue;
      this.unwatch(pid);
      entry.onDeath(same ? zombieExit(pid, stat.exitStatus) : null);
    }
  }
}

// The kernel shows a zombie's status to a reader that may ptrace it, and 0 to others: a 0 is
// believed only from root or the process's owner (the owner of /proc/PID).
function zombieExit(pid: number, status: number | null): ExitInfo | null {
  if (status === null) return null;
  if (status === 0 && !mayReadStatus(pid)) return null;
  return describeWaitStatus(status);
}

function mayReadStatus(pid: number): boolean {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0) return true;
  try {
    return statSync(`/proc/${pid}`).uid === uid;
  } catch {
    return false;
  }
}
