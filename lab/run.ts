import { writeFileSync } from "node:fs";
import { constants } from "node:os";
import { isSameProcessAlive, readStartTime } from "../lib/proc.js";
import type { GroupRow } from "../lib/wire/ps-row.js";
import type { Beater, Mutator } from "./clients.js";
import { monoMs, TAKEOVER_ALLOWANCE_MS, type GroupWatch } from "./group-watch.js";
import { withExtras, type Load } from "./load.js";
import type { Random } from "./random.js";
import type { System } from "./system.js";

// One run of the lab: the HAM under test, what the lab did to it, and what it saw.

export interface Violation {
  readonly step: number;
  readonly atMs: number;
  readonly invariant: string;
  readonly detail: string;
}

export interface RunOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly steps: number | null;
  readonly watchdogMs: number;
  readonly mount: boolean;
}

// A healthy entity's restart (SIGKILL → the HAM names a new live pid) judged against this.
export const RESTART_LIMIT_MS = 500;
// The HAM answers, with a ready Guardian behind it, this long after the last fault.
export const REPROTECT_LIMIT_MS = 1_000;

export class Run {
  readonly started = performance.now();
  step = 0;
  // What the HAM's counters must say: every death of the HAM and of its Guardian the lab caused.
  hamDeaths = 0;
  guardianDeaths = 0;
  // SIGKILLs that hit a live entity process the HAM named, by entity.
  readonly kills = new Map<string, number>();
  readonly faults = new Map<string, number>();
  readonly violations: Violation[] = [];
  checks = 0;
  quietMoments = 0;
  // Bumped by every fault that touches the HAM or its Guardian: a measurement that spans one
  // is not judged against the calm figure.
  hamFaultGeneration = 0;
  lastFaultEndMs = 0;
  // Takeovers from a HAM whose Guardian was ready, and from one whose Guardian was still starting.
  readonly takeoverMs: number[] = [];
  readonly takeoverStartingMs: number[] = [];
  readonly reprotectMs: number[] = [];
  readonly restartMs: number[] = [];
  readonly restartDuringHamFaultMs: number[] = [];
  readonly watching = new Set<Promise<void>>();
  // Every HAM fault (monoMs) and how long from then it may hold up a failover: a measurement
  // of the group's active again allows for the HAM faults around it.
  readonly hamFaults: Array<{ readonly at: number; readonly allowanceMs: number }> = [];
  // The lab's service group, as its members report it (null: the load has none).
  group: GroupWatch | null = null;
  // The group as the HAM showed it at the last quiet moment (for the report).
  lastGroupRow: GroupRow | undefined = undefined;
  extras: string[] = [];
  beaters: Beater[] = [];
  mutator: Mutator | null = null;
  lost = false;

  constructor(
    readonly options: RunOptions,
    readonly system: System,
    readonly random: Random,
    readonly load: Load,
    readonly configPath: string,
    readonly marksFile: string,
  ) {}

  now(): number {
    return performance.now() - this.started;
  }

  // Told of each violation as it is found (the bin prints it at once).
  onViolation: (violation: Violation) => void = () => undefined;

  violate(invariant: string, detail: string): void {
    const violation = { step: this.step, atMs: this.now(), invariant, detail };
    this.violations.push(violation);
    this.onViolation(violation);
  }

  count(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  // SIGKILL, only while `pid` still names the live process it named when chosen (this
  // machine's init reaps no orphans: a dead process may stay a zombie).
  kill(pid: number, startTime: number | null, signal: keyof typeof constants.signals = "SIGKILL"): boolean {
    if (pid <= 0 || startTime === null || !isSameProcessAlive(pid, startTime)) return false;
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  // Kills the HAM, once a Guardian (ready or starting) stands behind it: a HAM with no
  // Guardian process at all is a double fault nothing survives, and the lab does not cause it.
  async killHam(): Promise<number> {
    const pid = await this.until(() => {
      const ham = this.system.hamPid();
      return ham > 0 && this.system.guardianOf(ham) > 0 ? ham : 0;
    }, 3_000);
    const guardianReady = (await this.system.status(300))?.guardianPid === this.system.guardianOf(pid);
    if (pid === 0 || !this.kill(pid, readStartTime(pid))) return 0;
    this.hamDeaths += 1;
    this.hamFaultGeneration += 1;
    this.hamFaults.push({ at: monoMs(), allowanceMs: TAKEOVER_ALLOWANCE_MS });
    this.watch(this.measureTakeover(pid, performance.now(), this.hamFaultGeneration, guardianReady ? this.takeoverMs : this.takeoverStartingMs));
    return pid;
  }

  async killGuardian(): Promise<number> {
    const guardian = await this.until(() => this.system.guardianOf(this.system.hamPid()), 3_000);
    if (guardian === 0 || !this.kill(guardian, readStartTime(guardian))) return 0;
    this.guardianDeaths += 1;
    this.hamFaultGeneration += 1;
    return guardian;
  }

  // Kills the live process the HAM names for `name`; measures its restart in the background.
  // `knownPid`: the pid the HAM named before (when it cannot be asked: it was just killed).
  async killEntity(name: string, knownPid: number | null = null): Promise<boolean> {
    const pid = knownPid ?? (await this.system.entity(name))?.pid ?? 0;
    if (pid <= 0) return false;
    const live = this.system.processes().get(name) ?? [];
    if (!live.includes(pid) || !this.kill(pid, readStartTime(pid))) return false;
    this.kills.set(name, (this.kills.get(name) ?? 0) + 1);
    this.watch(this.measureRestart(name, pid, performance.now(), this.hamFaultGeneration));
    return true;
  }

  editConfig(): void {
    const extra = `lab-extra-${this.random.int(1, 3)}`;
    this.extras = this.extras.includes(extra) ? this.extras.filter((name) => name !== extra) : [...this.extras, extra].sort();
    writeFileSync(this.configPath, `${JSON.stringify(withExtras(this.load.config, this.extras), null, 2)}\n`);
  }

  // How much the HAM faults may have held up something measured from `from` to `to` (monoMs):
  // each fault holds things up from its moment for its allowance; of one that came before
  // `from`, only what is left of it counts. 0: no HAM fault touched the measurement.
  hamFaultAllowance(from: number, to: number): number {
    let allowance = 0;
    for (const fault of this.hamFaults) {
      const end = fault.at + fault.allowanceMs;
      if (fault.at <= to && end > from) allowance += end - Math.max(fault.at, from);
    }
    return Math.round(allowance);
  }

  // A measurement under way in the background: the run waits for it (5 s at most) before its end.
  watch(measuring: Promise<void>): void {
    this.watching.add(measuring);
    void measuring.finally(() => this.watching.delete(measuring));
  }

  private async measureTakeover(oldPid: number, killedAt: number, generation: number, samples: number[]): Promise<void> {
    let answeredAt = 0;
    const deadline = killedAt + 15_000;
    const calls: Array<[number, number, number]> = [];
    while (performance.now() < deadline && generation === this.hamFaultGeneration) {
      // Cheap until a new HAM has written its pid file; then asked through the socket (a
      // connection every 2 ms would load the HAM under test with the lab's own probing).
      if (answeredAt === 0) {
        const pid = this.system.hamPid();
        if (pid === 0 || pid === oldPid) {
          await sleep(1);
          continue;
        }
      }
      const asked = performance.now();
      const status = await this.system.status(500);
      if (calls.length < 40) calls.push([Math.round(asked - killedAt), Math.round(performance.now() - asked), status?.hamPid ?? -1]);
      if (status === null || status.guardianPid === 0) await sleep(answeredAt === 0 ? 2 : 10);
      if (status !== null && status.hamPid !== oldPid) {
        if (answeredAt === 0) {
          answeredAt = performance.now();
          // A sample that spans another fault of the HAM (a hang) is not a takeover time.
          if (generation !== this.hamFaultGeneration) return;
          samples.push(answeredAt - killedAt);
          if (process.env["LAB_DEBUG"] !== undefined && answeredAt - killedAt > 1_000) {
            process.stderr.write(`slow takeover: HAM ${oldPid} killed at ${Math.round(killedAt - this.started)} ms, HAM ${status.hamPid} answered ${Math.round(answeredAt - killedAt)} ms later; status calls: ${JSON.stringify(calls)}\n`);
          }
        }
        if (status.guardianPid > 0) {
          this.reprotectMs.push(performance.now() - answeredAt);
          return;
        }
      }
    }
  }

  private async measureRestart(name: string, oldPid: number, killedAt: number, generation: number): Promise<void> {
    const deadline = killedAt + 40_000;
    while (performance.now() < deadline) {
      const info = await this.system.entity(name);
      if (info !== null && info.pid > 0 && info.pid !== oldPid) {
        const latency = performance.now() - killedAt;
        // A HAM fault after the kill, or one whose takeover was still under way when the process
        // died (the HAM killed first, then the process: the new HAM restarts it), holds it up.
        const duringHamFault = generation !== this.hamFaultGeneration || this.hamFaultAllowance(monoMs() - latency, monoMs()) > 0;
        if (duringHamFault || !this.load.prompt.includes(name)) {
          this.restartDuringHamFaultMs.push(latency);
        } else {
          this.restartMs.push(latency);
          if (latency > RESTART_LIMIT_MS) {
            this.violate("restart held up", `${name} (pid ${oldPid} SIGKILLed) was restarted ${Math.round(latency)} ms later, beyond ${RESTART_LIMIT_MS} ms, with no HAM fault meanwhile`);
          }
        }
        return;
      }
      await sleep(3);
    }
    this.violate("restart held up", `${name} (pid ${oldPid} SIGKILLed) was not restarted within 40 s`);
  }

  async until<T>(check: () => T | Promise<T>, timeoutMs: number, everyMs = 5): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value || performance.now() > deadline) return value;
      await sleep(everyMs);
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
