import { spawn, type StdioOptions } from "node:child_process";
import { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { constants } from "node:os";
import { splitCommandLine } from "../../lib/command-line.js";
import { HamError } from "../../lib/errors.js";
import { isSameProcessAlive, pidsWithEnv, readProcStat, readStartTime } from "../../lib/proc.js";

export { isSameProcessAlive, readProcStat, readStartTime } from "../../lib/proc.js";

// The one adapter that creates and signals processes. Commands are split like QNX and
// spawned without a shell, each in its own session and process group (so it outlives the
// HAM and a kill can reach its whole group).

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly abnormal: boolean;
  readonly description: string;
}

// Signals whose default action dumps core: a death by one of them is abnormal.
const CORE_SIGNALS: ReadonlySet<string> = new Set([
  "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGSYS", "SIGXCPU", "SIGXFSZ",
]);

export function describeExit(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
  const abnormal = signal !== null && CORE_SIGNALS.has(signal);
  const description = signal !== null ? `killed by ${signal}` : `exited with code ${code ?? "?"}`;
  return { code, signal, abnormal, description };
}

// Number → name, the first name of each number (SIGABRT, not its alias SIGIOT).
const SIGNAL_NAMES: ReadonlyMap<number, NodeJS.Signals> = new Map(
  Object.entries(constants.signals).reverse().map(([name, number]) => [number, name as NodeJS.Signals]),
);

// A wait(2) status, as /proc/PID/stat shows a zombie's: the low 7 bits are the signal that
// ended it (0x80: it dumped core), or 0 and the exit code in bits 8-15.
export function describeWaitStatus(status: number): ExitInfo {
  const signalNumber = status & 0x7f;
  if (signalNumber === 0) return describeExit((status >> 8) & 0xff, null);
  const signal = SIGNAL_NAMES.get(signalNumber);
  if (signal === undefined) return { code: null, signal: null, abnormal: false, description: `killed by signal ${signalNumber}` };
  return describeExit(null, signal);
}

export interface Spawned {
  readonly pid: number;
  readonly startTime: number | null;
}

// `output`: the descriptors its stdout and stderr go to (its files, output.ts); without them
// it shares the HAM's. `notify`: s6's notification fd (below).
export function spawnLine(
  line: string, env: NodeJS.ProcessEnv, onExit: (exit: ExitInfo) => void, output: { out: number; err: number } | null = null,
  notify?: { fd: number; onReady: () => void },
): Spawned {
  const [file, ...args] = splitCommandLine(line);
  if (file === undefined) throw new HamError("EINVAL", "empty command line");
  const stdio: StdioOptions = ["ignore", output?.out ?? "inherit", output?.err ?? "inherit"];
  if (notify !== undefined) {
    while (stdio.length < notify.fd) stdio.push("ignore");
    stdio.push("pipe");
  }
  const child = spawn(file, args, { detached: true, stdio, env });
  if (notify !== undefined) readNotification(child.stdio[notify.fd], notify.onReady);
  let spawnError: Error | null = null;
  child.on("error", (error) => {
    spawnError = error;
  });
  if (child.pid === undefined) {
    // The exec failure is emitted on the next tick; its errno is already known by libuv.
    throw new HamError("ENOENT", `cannot spawn ${file}: ${spawnError ?? "exec failed"}`);
  }
  child.on("exit", (code, signal) => onExit(describeExit(code, signal)));
  return { pid: child.pid, startTime: readStartTime(child.pid) };
}

// s6's notification fd: the process writes a newline on it once ready. The HAM reads up to that
// newline, then closes its end (as s6-supervise does), so a process writing again meets EPIPE.
// The pipe is the HAM's alone: a HAM that takes over cannot read it (README, "Readiness").
function readNotification(stream: Readable | Writable | null | undefined, onReady: () => void): void {
  if (!(stream instanceof Socket)) return;
  stream.unref();
  stream.on("error", () => undefined);
  stream.on("data", (chunk: Buffer) => {
    if (!chunk.includes(0x0a)) return;
    stream.destroy();
    onReady();
  });
}

// Sends a signal; false when the target does not exist or may not be signalled.
export function sendSignal(pid: number, signal: number): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

// Kill escalation, written once: SIGTERM to the process group (or the process when it
// leads none), then SIGKILL after graceMs if it is still the same process.
export async function terminate(pid: number, startTime: number | null, graceMs: number): Promise<void> {
  const groupOrPid = signalTarget(pid, startTime);
  if (groupOrPid === null || !sendSignal(groupOrPid, constants.signals.SIGTERM)) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isSameProcessAlive(pid, startTime)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (isSameProcessAlive(pid, startTime)) sendSignal(groupOrPid, constants.signals.SIGKILL);
}

// A fence: SIGKILL at once to the process (and the group it leads), if it is still the same one.
// False when it lives on and could not be signalled (EPERM).
export function killNow(pid: number, startTime: number | null): boolean {
  const groupOrPid = signalTarget(pid, startTime);
  return groupOrPid === null || sendSignal(groupOrPid, constants.signals.SIGKILL) || !isSameProcessAlive(pid, startTime);
}

// What to signal to end `pid`: its process group when it leads one, else itself; null when
// it is gone (a pid whose process is gone may already name another one: never signal that).
function signalTarget(pid: number, startTime: number | null): number | null {
  if (!isSameProcessAlive(pid, startTime)) return null;
  return readProcStat(pid)?.processGroup === pid ? -pid : pid;
}

// A spawn's token rides in the environment of the process it started (Entity.spawnToken), so a
// HAM that takes over finds a process its predecessor spawned but did not note.
export const spawnEnv = (token: string): NodeJS.ProcessEnv => ({ HAM_SPAWN: token });

// The live process a spawn with `token` started, if any. Its children inherit its
// environment: the one whose parent lacks the token is it.
export function spawnedPid(token: string | null): number | null {
  if (token === null) return null;
  const pids = pidsWithEnv(`HAM_SPAWN=${token}`);
  return pids.find((pid) => !pids.includes(readProcStat(pid)?.parentPid ?? 0)) ?? pids[0] ?? null;
}
