import { isSameProcessAlive } from "./processes.js";

// Death detection for processes the HAM did not spawn: one interval, armed only while
// some pid is watched, reads /proc/PID/stat (start time as identity; a zombie is dead).
export class PidPoller {
  private readonly watched = new Map<number, { startTime: number | null; onDeath: () => void }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs: number) {}

  watch(pid: number, startTime: number | null, onDeath: () => void): void {
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
      if (isSameProcessAlive(pid, entry.startTime)) continue;
      this.unwatch(pid);
      entry.onDeath();
    }
  }
}
