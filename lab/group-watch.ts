import { unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { isSameProcessAlive, readStartTime } from "../lib/proc.js";
import { CheckpointWatch } from "./checkpoint-watch.js";
// What the watch reports to: a run of the lab (run.ts), or the cluster lab's run (cluster-run.ts).
export interface Judge {
  violate(invariant: string, detail: string): void;
  watch(measuring: Promise<void>): void;
  hamFaultAllowance(from: number, to: number): number;
}

// The lab's service group seen from its members' side: each member process (member.ts) tells
// the lab, over a Unix socket in the run directory, every role it is handed before it
// acknowledges it. From those beliefs the lab judges two promises as they happen:
//  - at most one active: when a member says it serves (active or quiescing), every other
//    member process is dead, or said a role that does not serve before that moment;
//  - an active again in time: after a fault that took the active away, some member says it
//    is active within ACTIVE_AGAIN_LIMIT_MS, plus what the HAM faults around may hold it up.

// A failover with a calm HAM is a death seen, an assignment and an acknowledgement: p50 28-33
// ms, p99 52-79 ms in 120-300 s lab runs (50 entities); more (~300-500 ms) when the standby
// was itself just restarted and must start Node and register first. 1 s: that, on a loaded
// machine, and nothing a HAM that held a failover up for a second would pass.
export const ACTIVE_AGAIN_LIMIT_MS = 1_000;
// A HAM death may hold a failover up for a takeover from its moment on: measured 100-450 ms
// under the lab's load (p99 360 ms), up to ~750 ms while its Guardian is still starting. A
// hang holds it up for the hang, then perhaps a takeover. (Run.hamFaultAllowance)
export const TAKEOVER_ALLOWANCE_MS = 1_000;
// Two sockets are read in no set order: a report written before another may be read after it.
// Judged this long after the report that raised the question, once both are surely read.
const DRAIN_MS = 100;
const GIVE_UP_MS = 15_000;

const afterDrain = (judge: () => void) => setTimeout(() => setImmediate(judge), DRAIN_MS);

export const serving = (role: string | null | undefined): boolean => role === "active" || role === "quiescing";

// The system-wide monotonic clock in ms (CLOCK_MONOTONIC, as the members' process.hrtime).
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface RoleReport {
  readonly role: string;
  readonly seq: number;
  readonly at: number;
}

export interface MemberProcess {
  readonly entity: string;
  readonly pid: number;
  readonly startTime: number | null;
  readonly reports: RoleReport[];
  // Seen dead (or a zombie) by the lab: it serves no more.
  dead: boolean;
}

interface Awaiting {
  readonly fault: string;
  readonly victim: string;
  readonly at: number;
  // The time a member has to say "active" (before the HAM faults' allowance).
  readonly limitMs: number;
  readonly done: () => void;
}

export class GroupWatch {
  // Every member process that said hello, and the latest by pid (pids wrap at 32768 here).
  readonly processes: MemberProcess[] = [];
  private readonly byPid = new Map<number, MemberProcess>();
  readonly activeAgainMs: number[] = [];
  readonly activeAgainDuringHamFaultMs: number[] = [];
  readonly errors: string[] = [];
  // Serving reports judged against every other member process.
  judged = 0;
  private awaited: Awaiting[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private run: Judge | null = null;
  private readonly early: Array<[string, string]> = [];
  // The cross-node group's members' counter in its checkpoint (cluster lab only).
  readonly checkpoints = new CheckpointWatch((invariant, detail) => this.violate(invariant, detail));

  constructor(readonly socketPath: string, readonly name: string, readonly members: readonly string[]) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
      createInterface({ input: socket }).on("line", (line) => this.onLine(line));
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    try {
      unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }

  // The run its violations go to (those found before it existed are handed over now).
  attach(run: Judge): void {
    this.run = run;
    for (const [invariant, detail] of this.early.splice(0)) run.violate(invariant, detail);
  }

  private violate(invariant: string, detail: string): void {
    if (this.run === null) this.early.push([invariant, detail]);
    else this.run.violate(invariant, detail);
  }

  // The live member process whose last report serves (the lab's belief of the active), if any.
  believedActive(): MemberProcess | null {
    for (const member of this.processes) {
      if (member.dead || !serving(member.reports.at(-1)?.role)) continue;
      if (isSameProcessAlive(member.pid, member.startTime)) return member;
      member.dead = true;
    }
    return null;
  }

  // Live member processes by their last report.
  beliefs(): MemberProcess[] {
    return this.processes.filter((member) => !member.dead && isSameProcessAlive(member.pid, member.startTime));
  }

  // A fault took the active away at `at` (monoMs): the next member to say "active" ends the wait,
  // within `limitMs` (a node lost: the lease's TTL + 1 s).
  awaitActive(fault: string, victim: string, at: number, limitMs = ACTIVE_AGAIN_LIMIT_MS): void {
    this.run?.watch(new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.awaited = this.awaited.filter((item) => item !== awaiting);
        this.violate("active again in time", `${this.name}: no member said it was active within ${GIVE_UP_MS / 1_000} s of ${fault} (${victim})`);
        resolve();
      }, GIVE_UP_MS);
      const awaiting: Awaiting = { fault, victim, at, limitMs, done: () => {
        clearTimeout(timer);
        resolve();
      } };
      this.awaited.push(awaiting);
    }));
  }

  private onLine(line: string): void {
    let message: { kind?: unknown; entity?: unknown; pid?: unknown; role?: unknown; seq?: unknown; at?: unknown; message?: unknown; value?: unknown; readAt?: unknown; code?: unknown };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      this.errors.push(`not a report: ${line.slice(0, 80)}`);
      return;
    }
    const pid = Number(message.pid);
    const at = Number(message.at) / 1e6;
    if (message.kind === "hello") {
      const startTime = readStartTime(pid);
      const member = { entity: String(message.entity), pid, startTime, reports: [], dead: startTime === null };
      this.processes.push(member);
      this.byPid.set(pid, member);
      return;
    }
    if (typeof message.kind === "string" && message.kind.startsWith("ckpt-")) {
      this.checkpoints.onReport({ ...message, kind: message.kind, entity: String(message.entity), pid, at });
      return;
    }
    if (message.kind === "error") {
      this.errors.push(`${String(message.entity)} (pid ${pid}): ${String(message.message)}`);
      return;
    }
    const member = this.byPid.get(pid);
    if (message.kind !== "role" || member === undefined) return;
    const report = { role: String(message.role), seq: Number(message.seq), at };
    member.reports.push(report);
    if (serving(report.role)) this.judgeServing(member, report);
    if (report.role === "active") this.activeAgain(member, report);
  }

  // `member` says it serves from `report.at`: every other member process must then be dead, or
  // have said a role that does not serve before that moment. Liveness is read at once (a
  // process alive now was alive then); the reports are judged once both sockets are drained.
  private judgeServing(member: MemberProcess, report: RoleReport): void {
    this.judged += 1;
    for (const other of this.processes) {
      if (other === member || other.dead) continue;
      if (!isSameProcessAlive(other.pid, other.startTime)) {
        other.dead = true;
        continue;
      }
      // After the delay, one more turn of the loop reads what the sockets hold (a loop held up
      // past the delay runs the timer before it reads them).
      afterDrain(() => {
        const before = other.reports.filter((item) => item.at < report.at).at(-1);
        if (!serving(before?.role)) return;
        this.violate("at most one active", `${member.entity} (pid ${member.pid}) said ${report.role} (seq ${report.seq}) while ${other.entity} ` +
          `(pid ${other.pid}, alive) had said ${before?.role} (seq ${before?.seq}) ${Math.round(report.at - (before?.at ?? 0))} ms before and nothing since`);
      });
    }
  }

  private activeAgain(member: MemberProcess, report: RoleReport): void {
    const ended = this.awaited.filter((item) => item.at < report.at);
    this.awaited = this.awaited.filter((item) => item.at >= report.at);
    for (const item of ended) {
      item.done();
      const took = report.at - item.at;
      const allowance = this.run?.hamFaultAllowance(item.at, report.at) ?? 0;
      (allowance > 0 ? this.activeAgainDuringHamFaultMs : this.activeAgainMs).push(took);
      const limit = item.limitMs + allowance;
      if (took > limit) {
        this.violate("active again in time", `${this.name}: ${member.entity} said active ${Math.round(took)} ms after ${item.fault} (${item.victim}), ` +
          `beyond ${limit} ms (${allowance > 0 ? `${item.limitMs} ms plus ${allowance} ms for HAM faults meanwhile` : "no HAM fault meanwhile"})`);
      }
    }
  }
}
