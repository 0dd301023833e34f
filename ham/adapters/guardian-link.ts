import { fork, type ChildProcess } from "node:child_process";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import { distFile } from "./dist-files.js";
import type { HamOptions } from "../daemon/ham-options.js";

// The HAM's side of its Guardian: a child with an IPC channel. The Guardian sees the HAM's
// death as its channel closing; the HAM sees the Guardian's as its `exit`, and spawns a new
// one at once (after a pause only when Guardians keep failing by themselves). It answers the
// Guardian's pings (the watchdog of a hung HAM). A clean stop tells the Guardian first, so
// it does not take over.
// The bundle `npm run build` makes (guardian/make-bundle.mjs: it loads in half the time), else
// the Guardian's modules; seen from dist/ham/adapters/ or from the bundle itself.
export const GUARDIAN_SCRIPT = distFile(import.meta.url, ["../../guardian/guardian.bundle.mjs", "./guardian.bundle.mjs", "../../guardian/main.js"]);
export const HAM_NODE_FLAGS = ["--max-semi-space-size=1", "--optimize-for-size"];
const RESPAWN_DELAY_MS = [0, 100, 500, 2_000];

// The Guardian's environment: the HAM's, with the etcd password, and NODE_EXTRA_CA_CERTS carried
// under another name. Node reads that file at its start whether or not it ever makes a TLS
// connection: with Debian's bundle of ~140 certificates that was 70–100 ms of a Guardian's
// ~150 ms start here, all of it between a takeover and the new HAM being protected again. The
// Guardian puts it back for the processes it starts once it is the HAM (guardian/main.ts). Kept
// as it is for a clustered HAM reaching etcd over TLS without --etcd-ca, whose connection may
// rely on it.
export function guardianEnv(options: HamOptions, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...env };
  const password = options.cluster?.password ?? null;
  if (password !== null) result["HAMD_ETCD_PASSWORD"] = password;
  const extraCa = env["NODE_EXTRA_CA_CERTS"];
  const etcdTrustsNode = options.cluster !== null && options.cluster.ca === null && options.cluster.etcd.some((url) => url.startsWith("https:"));
  if (extraCa !== undefined && !etcdTrustsNode) {
    delete result["NODE_EXTRA_CA_CERTS"];
    result[CARRIED_EXTRA_CA] = extraCa;
  }
  return result;
}
export const CARRIED_EXTRA_CA = "HAMD_NODE_EXTRA_CA_CERTS";

export class GuardianLink {
  private child: ChildProcess | null = null;
  private stopping = false;
  private quickDeaths = 0;
  private waiters: Array<() => void> = [];
  private hamServing = false;
  pid = 0;

  constructor(private readonly options: HamOptions, private readonly log: ActivityLog, private readonly onFailure: () => void) {}

  start(): void {
    if (this.stopping) return;
    const startedAt = Date.now();
    // An etcd password goes in the environment, not in an argv every user can read.
    const cluster = this.options.cluster === null ? null : { ...this.options.cluster, password: null };
    const child = fork(GUARDIAN_SCRIPT, [JSON.stringify({ ...this.options, fresh: false, cluster }), String(process.pid)], {
      execArgv: HAM_NODE_FLAGS, env: guardianEnv(this.options), stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.child = child;
    this.pid = 0;
    if (this.hamServing) this.send(child, { serving: true });
    child.on("error", () => undefined);
    child.on("message", (message: { ready?: boolean; ping?: number }) => {
      if (this.child !== child) return;
      if (typeof message.ping === "number") this.send(child, { pong: message.ping });
      // Its pid shows once it follows the state and watches this HAM.
      if (message.ready === true) {
        this.pid = child.pid ?? 0;
        for (const wake of this.waiters.splice(0)) wake();
      }
    });
    child.on("exit", (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.pid = 0;
      if (this.stopping) return;
      this.onFailure();
      // Killed from outside: a new one at once. Failing by itself: pause, in case it fails again.
      this.quickDeaths = signal === null && Date.now() - startedAt < 1_000 ? this.quickDeaths + 1 : 0;
      const delay = RESPAWN_DELAY_MS[Math.min(this.quickDeaths, RESPAWN_DELAY_MS.length - 1)] ?? 0;
      this.log.write(LOG_LEVEL.events, "warn", { event: "guardian-death", pid: child.pid, code, signal },
        `Guardian (pid ${child.pid}) died (${signal ?? `code ${code}`}); a new one ${delay === 0 ? "now" : `in ${delay} ms`}`);
      if (delay === 0) this.start();
      else setTimeout(() => this.start(), delay);
    });
    this.log.write(LOG_LEVEL.detail, "info", { event: "guardian", pid: child.pid }, `Guardian started (pid ${child.pid})`);
  }

  // Resolves true once a Guardian is ready, false after `timeoutMs` without one.
  ready(timeoutMs: number): Promise<boolean> {
    if (this.pid > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== wake);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(wake);
    });
  }

  // The HAM serves its socket: its Guardian's watchdog may judge it from now on (a takeover forks
  // its Guardian before it recovers the state, which holds the event loop for a while on a busy
  // machine; it is not hung for that). A Guardian forked later is told at once.
  serving(): void {
    this.hamServing = true;
    if (this.child !== null) this.send(this.child, { serving: true });
  }

  // A message the channel may no longer carry (the Guardian just died): its exit tells.
  private send(child: ChildProcess, message: object): void {
    if (!child.connected) return;
    try {
      child.send(message, undefined, {}, () => undefined);
    } catch {
      // closed meanwhile
    }
  }

  // Ends the Guardian without a takeover; resolves once it is gone.
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    if (child.connected) this.send(child, { stop: true });
    else child.kill("SIGKILL");
    const timer = setTimeout(() => child.kill("SIGKILL"), 1_000);
    await gone;
    clearTimeout(timer);
  }
}
