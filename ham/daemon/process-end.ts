import { closeSync } from "node:fs";
import { isatty } from "node:tty";
import { readProcStat } from "../../lib/proc.js";

// How a process running a HAM (`ham --foreground`, or a Guardian that took over) ends.

// stdin, stdout and stderr that were terminals when this process started.
const terminalsAtStart = [0, 1, 2].filter((fd) => isatty(fd));

// Node 20 sets every stdio terminal back to its first modes at exit, and aborts (SIGABRT, an
// assertion on stderr, maybe a core) when that terminal hung up: tcsetattr fails with EIO
// (nodejs/node#51519, fixed by #58200 in later releases). A terminal that no longer answers
// is closed first: Node's reset skips a closed descriptor.
export function exitProcess(code: number): never {
  for (const fd of terminalsAtStart) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
  }
  process.exit(code);
}

// SIGINT and SIGTERM stop the HAM (its state kept, its monitored processes left running);
// SIGHUP too when it has a controlling terminal, like any program in the foreground of a
// terminal that went away (a closed window, a dropped SSH session). Without one (the
// background daemon, a service under systemd or s6) a SIGHUP is no hangup: it is ignored.
// `ham`: the HAM (daemon/ham.ts; not imported: it re-exports this file).
export function stopOnSignals(ham: { stop(reason: string, removeState: boolean): Promise<void> }): void {
  const stop = (reason: string) => () => void ham.stop(reason, false).then(() => exitProcess(0));
  process.on("SIGINT", stop("signal"));
  process.on("SIGTERM", stop("signal"));
  process.on("SIGHUP", hasTerminal() ? stop("hangup") : () => undefined);
}

// Read now: a hangup takes the terminal away from every process of its session.
function hasTerminal(): boolean {
  return (readProcStat(process.pid)?.terminal ?? 0) !== 0;
}
