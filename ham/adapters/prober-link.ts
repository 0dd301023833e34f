import { fork, type ChildProcess } from "node:child_process";
import type { FromProber, ProberCommand, ToProber } from "../../lib/probes/messages.js";
import type { ProbeSpec } from "../../lib/tree/types.js";
import type { ProbeResult } from "../core/probes.js";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import { distFile } from "./dist-files.js";

// The HAM's side of its prober process (prober/): forked when the first probe starts, sent
// the probes to run per entity, batched per turn; its results come back to `onResults`. Its
// death is logged and counted, and a new one is forked and given every probe again (after a
// pause only when probers keep failing by themselves). Probes cost the HAM a message, never
// a check: an exec probe forked from the HAM costs ~4 ms of its event loop each (feasibility §2).
export const PROBER_SCRIPT = distFile(import.meta.url, ["../../prober/main.js", "../prober/main.js"]);
const RESPAWN_DELAY_MS = [0, 100, 500, 2_000];

interface Wanted {
  readonly seq: number;
  readonly pid: number;
  readonly probes: readonly ProbeSpec[];
}

export class ProberLink {
  private child: ChildProcess | null = null;
  private readonly wanted = new Map<string, Wanted>();
  private commands: ProberCommand[] = [];
  private nextSeq = 1;
  private stopping = false;
  private quickDeaths = 0;
  private respawn: NodeJS.Timeout | null = null;
  failures = 0;

  constructor(private readonly log: ActivityLog, private readonly onResults: (results: ProbeResult[]) => void) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  facts(): { pid: number; failures: number; entities: number } {
    return { pid: this.pid, failures: this.failures, entities: this.wanted.size };
  }

  start(entity: string, pid: number, probes: readonly ProbeSpec[]): void {
    const seq = this.nextSeq++;
    this.wanted.set(entity, { seq, pid, probes });
    this.send({ op: "start", entity, seq, probes });
  }

  stopEntity(entity: string): void {
    if (this.wanted.delete(entity)) this.send({ op: "stop", entity });
  }

  // Ends the prober (the HAM stops): its checks under way end with it.
  stop(): void {
    this.stopping = true;
    if (this.respawn !== null) clearTimeout(this.respawn);
    const child = this.child;
    this.child = null;
    if (child === null) return;
    if (child.connected) child.disconnect();
    setTimeout(() => child.kill("SIGKILL"), 1_000).unref();
  }

  private send(command: ProberCommand): void {
    if (this.stopping) return;
    if (this.commands.length === 0) setImmediate(() => this.flush());
    this.commands.push(command);
  }

  // Forked here, not in the transition that asked: a takeover's recovery does not wait for it.
  private flush(): void {
    if (this.stopping) return;
    if (this.child === null && this.respawn === null && this.wanted.size > 0) this.fork();
    const child = this.child;
    const message: ToProber = { commands: this.commands };
    this.commands = [];
    if (child === null || !child.connected || message.commands.length === 0) return;
    try {
      child.send(message, undefined, {}, () => undefined);
    } catch {
      // closed meanwhile: its exit starts a new one with every probe
    }
  }

  private fork(): void {
    const startedAt = Date.now();
    const child = fork(PROBER_SCRIPT, [], { execArgv: ["--max-semi-space-size=1", "--optimize-for-size"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    this.child = child;
    child.on("error", () => undefined);
    child.on("message", (message: FromProber) => {
      if (this.child === child) this.received(message);
    });
    child.on("exit", (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.failures += 1;
      this.quickDeaths = signal === null && Date.now() - startedAt < 1_000 ? this.quickDeaths + 1 : 0;
      const delay = RESPAWN_DELAY_MS[Math.min(this.quickDeaths, RESPAWN_DELAY_MS.length - 1)] ?? 0;
      this.log.write(LOG_LEVEL.events, "warn", { event: "prober-death", pid: child.pid, code, signal, failures: this.failures },
        `prober (pid ${child.pid}) died (${signal ?? `code ${code}`}); a new one ${delay === 0 ? "now" : `in ${delay} ms`}, its probes counting again`);
      this.respawn = setTimeout(() => {
        this.respawn = null;
        if (this.stopping || this.wanted.size === 0) return;
        this.commands = [];
        for (const [entity, wanted] of this.wanted) this.send({ op: "start", entity, seq: wanted.seq, probes: wanted.probes });
      }, delay);
    });
    this.log.write(LOG_LEVEL.detail, "info", { event: "prober", pid: child.pid }, `prober started (pid ${child.pid})`);
  }

  // Results of the current start of each entity's probes, with the process they were for.
  private received(message: FromProber): void {
    const results: ProbeResult[] = [];
    for (const result of message.results ?? []) {
      const wanted = this.wanted.get(result.entity);
      if (wanted === undefined || wanted.seq !== result.seq) continue;
      results.push({ entity: result.entity, pid: wanted.pid, probe: result.probe, ok: result.ok, error: result.error });
    }
    if (results.length > 0) this.onResults(results);
  }
}
