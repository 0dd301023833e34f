import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import type { SystemdOptions } from "../daemon/ham-options.js";

// systemd's notify protocol (sd_notify(3)): a datagram of NAME=VALUE lines to $NOTIFY_SOCKET.
// Node has no unix datagram socket, so each message is Debian's `systemd-notify`, spawned
// without a shell and not waited for. It stays until systemd has read the message (its
// default BARRIER=1, systemd ≥ 246), so systemd finds the sender's unit even with
// NotifyAccess=all: no short-lived-sender race (systemd#2737). A spawn blocks the HAM's loop
// for the fork: p50 6–17 ms for a 46 MB process, 60 ms for 227 MB, on this 2-core machine at a
// load of 12–15 (README, "Running under systemd"); sent rarely, never between a death and a restart.
const NOTIFY_BIN = "systemd-notify";
const NOTIFY_VARIABLES = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] as const;

// What systemd told the process it started (`ham`), taken out of `env` so that no process the
// HAM starts inherits it: a child holding NOTIFY_SOCKET could speak for the unit. WATCHDOG_PID
// names the process the watchdog is for (sd_watchdog_enabled(3)): a watchdog meant for another
// process is not ours. `ham` is that process; the HAM it forks (the daemon) and every Guardian
// that takes over announce themselves with MAINPID= and ping in its place.
export function takeSystemdEnv(env: NodeJS.ProcessEnv, pid: number): SystemdOptions | null {
  const socket = env["NOTIFY_SOCKET"];
  const usec = Number(env["WATCHDOG_USEC"]);
  const watchdogPid = env["WATCHDOG_PID"];
  for (const name of NOTIFY_VARIABLES) delete env[name];
  if (socket === undefined || socket === "") return null;
  const ours = watchdogPid === undefined || Number(watchdogPid) === pid;
  return { notifySocket: socket, watchdogUsec: ours && Number.isSafeInteger(usec) && usec > 0 ? usec : null };
}

// Sends `fields` and waits until systemd read them (or 5 s): for a process about to exit that
// must know its message counts (the daemonising `ham`, a `ham` handing its unit over).
export function notifyNow(options: SystemdOptions, fields: readonly string[]): boolean {
  const result = spawnSync(NOTIFY_BIN, [...fields], { env: { ...process.env, NOTIFY_SOCKET: options.notifySocket }, stdio: "ignore", timeout: 10_000 });
  return result.error === undefined && result.status === 0;
}

// Whether `pid` runs in the same cgroup as this process: systemd accepts MAINPID= of a process
// of the unit's own cgroup only (from an unprivileged sender).
export function sameCgroup(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, "utf8") === readFileSync("/proc/self/cgroup", "utf8");
  } catch {
    return false;
  }
}

// A HAM's messages to systemd. Without NOTIFY_SOCKET (not under a Type=notify unit) it sends
// nothing and arms nothing. A failure is a side failure: counted, logged (the first of each
// kind), never a reason to stop.
export class SystemdNotifier {
  failures = 0;
  private missing = false;
  private warned = false;
  private pinging: NodeJS.Timeout | null = null;
  private pingInFlight = false;

  constructor(private readonly options: SystemdOptions | null, private readonly log: () => ActivityLog) {}

  get enabled(): boolean {
    return this.options !== null;
  }

  send(fields: readonly string[], onDone?: () => void): void {
    const options = this.options;
    if (options === null || this.missing) {
      onDone?.();
      return;
    }
    let child;
    try {
      child = spawn(NOTIFY_BIN, [...fields], { env: { ...process.env, NOTIFY_SOCKET: options.notifySocket }, stdio: "ignore" });
    } catch (error) {
      this.failed(fields, String(error));
      onDone?.();
      return;
    }
    // A failed spawn may be followed by an `exit` too: each send ends once.
    let ended = false;
    const end = (why: string | null, missing = false) => {
      if (ended) return;
      ended = true;
      if (missing) this.notInstalled();
      else if (why !== null) this.failed(fields, why);
      onDone?.();
    };
    child.on("error", (error: NodeJS.ErrnoException) => end(error.message, error.code === "ENOENT"));
    child.on("exit", (code, signal) => {
      end(code === 0 ? null : signal !== null ? `systemd-notify killed by ${signal}` : `systemd-notify exited with ${code}`);
    });
  }

  // WATCHDOG=1 every half of WATCHDOG_USEC (sd_watchdog_enabled(3)), from this event loop: a
  // HAM that hangs stops pinging. One ping at a time: a systemd slow to read skips beats.
  startWatchdog(): void {
    const usec = this.options?.watchdogUsec ?? null;
    if (usec === null || this.pinging !== null) return;
    const ping = () => {
      if (this.pingInFlight) return;
      this.pingInFlight = true;
      this.send(["WATCHDOG=1"], () => {
        this.pingInFlight = false;
      });
    };
    ping();
    this.pinging = setInterval(ping, Math.max(1, Math.floor(usec / 2_000)));
    this.pinging.unref();
  }

  stopWatchdog(): void {
    if (this.pinging !== null) clearInterval(this.pinging);
    this.pinging = null;
  }

  private notInstalled(): void {
    this.failures += 1;
    if (this.missing) return;
    this.missing = true;
    this.stopWatchdog();
    this.log().write(LOG_LEVEL.events, "warn", { event: "systemd-notify-missing" },
      "NOTIFY_SOCKET is set but systemd-notify is not installed (Debian: apt-get install systemd): systemd is not told this HAM's state");
  }

  private failed(fields: readonly string[], why: string): void {
    this.failures += 1;
    if (this.warned) return;
    this.warned = true;
    this.log().write(LOG_LEVEL.events, "warn", { event: "systemd-notify-failed", fields, error: why },
      `telling systemd ${fields.join(" ")} failed: ${why} (further failures are only counted: systemdNotifyFailures in status)`);
  }
}
