import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { BEATER_SCRIPT, MUTATOR_SCRIPT } from "./load.js";
import { startHelper } from "./system.js";

// The lab's clients of the HAM: self-attached heartbeating processes, and one mutator whose
// acknowledged requests the lab books, to check none is lost or applied twice.

export const CLIENT_PERIOD_MS = 500;

export interface Beater {
  readonly name: string;
  readonly child: ChildProcess;
  attached: boolean;
  readonly errors: string[];
  // Missed-heartbeat firings already judged (checks.ts).
  missedSeen: number;
}

export function startBeater(name: string, runDir: string): Beater {
  const child = startHelper(BEATER_SCRIPT, [name, String(CLIENT_PERIOD_MS), "2", "4"], runDir);
  const beater: Beater = { name, child, attached: false, errors: [], missedSeen: 0 };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    if (line === "attached") beater.attached = true;
    else beater.errors.push(line);
  });
  return beater;
}

// What the mutator said: entity → its state as far as acknowledgements go.
export interface Booked {
  exists: boolean;
  // The outcome of a request about it is unknown (it failed): not checked exactly.
  uncertain: boolean;
  raisesSent: number;
  raisesAcked: number;
}

export class Mutator {
  readonly child: ChildProcess;
  readonly booked = new Map<string, Booked>();
  acked = 0;
  errors = 0;
  private lastSent: { op: string; name: string } | null = null;
  private onPaused: (() => void) | null = null;

  // `slower`: the pauses between requests are this many times longer (a node of N on one machine).
  constructor(runDir: string, seed: number, slower = 1) {
    this.child = startHelper(MUTATOR_SCRIPT, [String(seed), String(slower)], runDir);
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (line) => this.onLine(line));
  }

  private onLine(line: string): void {
    const message = JSON.parse(line) as { op: string; name?: string; state?: string };
    if (message.op === "paused") {
      this.onPaused?.();
      this.onPaused = null;
      return;
    }
    if (message.op === "error") {
      this.errors += 1;
      if (this.lastSent !== null) this.entry(this.lastSent.name).uncertain = this.lastSent.op !== "raise";
      this.lastSent = null;
      return;
    }
    const name = message.name ?? "";
    const entry = this.entry(name);
    if (message.state === "sent") {
      this.lastSent = { op: message.op, name };
      if (message.op === "raise") entry.raisesSent += 1;
      return;
    }
    this.lastSent = null;
    this.acked += 1;
    if (message.op === "create") entry.exists = true;
    if (message.op === "detach") entry.exists = false;
    if (message.op === "raise") entry.raisesAcked += 1;
  }

  private entry(name: string): Booked {
    let entry = this.booked.get(name);
    if (entry === undefined) this.booked.set(name, (entry = { exists: false, uncertain: false, raisesSent: 0, raisesAcked: 0 }));
    return entry;
  }

  // Resolves once the request under way is answered (or failed): the books are then exact.
  pause(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.onPaused = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.child.stdin?.write("pause\n");
    });
  }

  resume(): void {
    this.child.stdin?.write("resume\n");
  }
}
