import { closeSync } from "node:fs";
import { isatty } from "node:tty";
import type { Ham } from "./ham.js";

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

// SIGINT and SIGTERM stop the HAM: its state kept, its monitored processes left running.
export function stopOnSignals(ham: Ham): void {
  const stop = () => void ham.stop("signal", false).then(() => exitProcess(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
