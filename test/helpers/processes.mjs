// Process bookkeeping shared by the tests and the benchmarks (plain JS so both can load it).
import { readStartTime } from "../../dist/lib/proc.js";

// Start time of a pid (the HAM's own reading of /proc/PID/stat), or null if gone.
export const startTimeOf = (pid) => readStartTime(pid);

// Pids of the processes whose environment holds `entry` (NAME=value): every process a HAM
// started carries HAM_RUN_DIR=its run dir. The HAM's own reading of /proc.
export { pidsWithEnv } from "../../dist/lib/proc.js";

// Pids remembered with their start times: `killAll` SIGKILLs only those that still name the
// process that was remembered (pids are reused quickly when much runs in parallel).
export class PidKeeper {
  #pids = new Map();

  add(pid) {
    const startTime = pid > 0 ? startTimeOf(pid) : null;
    if (startTime !== null) this.#pids.set(pid, startTime);
    return pid;
  }

  killAll() {
    for (const [pid, startTime] of this.#pids) {
      if (startTimeOf(pid) !== startTime) continue;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#pids.clear();
  }
}
