import { readdirSync, readFileSync } from "node:fs";

// What the HAM, its Guardian and the fault lab read of other processes, from /proc.

export interface ProcStat {
  readonly state: string;
  readonly parentPid: number;
  readonly processGroup: number;
  // The controlling terminal's device number, 0 for none.
  readonly terminal: number;
  readonly startTime: number;
  // A zombie's wait(2) status (field 52, Linux >= 3.5; 0 while it runs, and to a reader that
  // may not ptrace it); null when the kernel does not show it.
  readonly exitStatus: number | null;
}

// /proc/PID/stat: state is field 3, ppid field 4, pgrp field 5, tty_nr field 7, starttime field
// 22 and exit_code field 52, counted after the ")" that ends the command name (which may itself hold
// spaces and parentheses).
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isFinite(startTime)) return null;
  const exitStatus = fields[49] === undefined ? null : Number(fields[49]);
  return {
    state, parentPid: Number(fields[1]), processGroup: Number(fields[2]), terminal: Number(fields[4]), startTime,
    exitStatus: exitStatus !== null && Number.isSafeInteger(exitStatus) ? exitStatus : null,
  };
}

export function readStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

// Alive means: the pid exists, is not a zombie, and is the same process (same start time).
export function isSameProcessAlive(pid: number, startTime: number | null): boolean {
  const stat = readProcStat(pid);
  if (stat === null || stat.state === "Z" || stat.state === "X") return false;
  return startTime === null || stat.startTime === startTime;
}

// A process's environment as NAME=value entries (empty when gone, a zombie, or not ours).
export function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
  } catch {
    return [];
  }
}

// Every live pid whose environment holds `entry` (NAME=value): how a HAM that took over finds
// a process its predecessor spawned (HAM_SPAWN=token) but did not note, and how tests and
// the fault lab find every process a HAM started (HAM_RUN_DIR=its run directory).
export function pidsWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if (environOf(Number(name)).includes(entry)) pids.push(Number(name));
  }
  return pids;
}

// Clock ticks per second (sysconf(_SC_CLK_TCK)): 100 on every Linux architecture Node runs on.
const CLOCK_TICKS = 100;

export interface ProcUsage {
  // CPU time over the process's lifetime (ps's %CPU, not top's recent one), in percent of one CPU.
  readonly cpuPercent: number;
  readonly rssBytes: number;
}

// A live process's CPU and memory, or null when it is gone, a zombie, or another process now
// holds the pid (its start time differs from `startTime`).
export function readProcUsage(pid: number, startTime: number | null): ProcUsage | null {
  let stat: string;
  let status: string;
  let uptime: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    status = readFileSync(`/proc/${pid}/status`, "latin1");
    uptime = readFileSync("/proc/uptime", "latin1");
  } catch {
    return null;
  }
  // After the ")": state is field 3, utime 14, stime 15, starttime 22.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const started = Number(fields[19]);
  if (fields[0] === "Z" || fields[0] === "X" || (startTime !== null && started !== startTime)) return null;
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const lifeTicks = Number(uptime.split(" ")[0]) * CLOCK_TICKS - started;
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return { cpuPercent: lifeTicks > 0 ? (100 * cpuTicks) / lifeTicks : 0, rssBytes: rssKb * 1024 };
}
