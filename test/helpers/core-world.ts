import { expect } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { initialState } from "../../dist/ham/core/state.js";
import { step } from "../../dist/ham/core/step.js";
import { recordOf, stateKeys } from "../../dist/ham/daemon/records.js";
import { restoreState, type CheckedRecords } from "../../dist/ham/daemon/restore.js";
import type { Effect } from "../../dist/ham/core/effects.js";
import type { CoreEvent } from "../../dist/ham/core/events.js";
import type { HamState } from "../../dist/ham/core/state.js";
import { isConditionValue, isEntityValue, isFiringValue, isGroupValue } from "../../dist/ham/daemon/state-schema.js";

// The core alone: events in, effects out, on a manual clock. No process, socket, file or
// timer exists here: a spawn is answered by the test (a pid it makes up), a timer fires when
// the test moves the clock past it.

type Timer = { id: string; at: number };

export class World {
  state: HamState;
  wall = 1_000_000;
  mono = 5_000;
  nextPid = 100;
  ref = 1;
  readonly timers = new Map<string, number>();
  readonly log: Array<{ event: unknown; message: string }> = [];
  readonly effects: Effect[] = [];
  readonly replies = new Map<number, { result?: unknown; error?: string }>();
  // What the world answers: whether a spawn works, whether a signal or pulse is delivered.
  spawnWorks = true;
  delivers = true;
  // Service groups: the roles sent (in order), the members fenced, the pids terminated.
  readonly roles: Array<{ entity: string; role: string; seq: number; token: string }> = [];
  readonly fenced: string[] = [];
  // Whether a fence kills at once (false: a kill not yet delivered, or refused).
  fenceKills = true;
  readonly terminated: number[] = [];

  constructor(state?: HamState) {
    this.state = state ?? initialState(1, 2, this.wall);
  }

  get at() {
    return { wall: this.wall, mono: this.mono };
  }

  send(event: CoreEvent): Effect[] {
    const queue: CoreEvent[] = [event];
    const all: Effect[] = [];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const result = step(this.state, next);
      this.state = result.state;
      for (const effect of result.effects) {
        all.push(effect);
        this.effects.push(effect);
        const answer = this.carryOut(effect);
        if (answer !== null) queue.push(answer);
      }
    }
    return all;
  }

  private carryOut(effect: Effect): CoreEvent | null {
    switch (effect.kind) {
      case "spawn":
        if (!this.spawnWorks) {
          return { kind: "spawn-failed", at: this.at, entity: effect.entity, token: effect.token, code: "ENOENT", error: "no such program", cause: effect.cause };
        }
        return { kind: "spawned", at: this.at, entity: effect.entity, token: effect.token, pid: this.nextPid++, startTime: 1, cause: effect.cause };
      case "execute":
        return { kind: "action-done", at: this.at, firing: effect.firing, ok: this.spawnWorks };
      case "signal":
      case "pulse":
        return { kind: "action-done", at: this.at, firing: effect.firing, ok: this.delivers };
      case "arm":
        this.timers.set(effect.id, effect.at);
        return null;
      case "cancel":
        this.timers.delete(effect.id);
        return null;
      case "log":
        this.log.push({ event: effect.fields["event"], message: effect.message });
        return null;
      case "reply":
        this.replies.set(effect.ref, { result: effect.result });
        return null;
      case "fence":
        // SIGKILL: the process dies at once (its death event, as the HAM would see it).
        this.fenced.push(effect.entity);
        if (!this.fenceKills) return null;
        return { kind: "died", at: this.at, entity: effect.entity, pid: effect.pid, abnormal: false, reason: "killed by SIGKILL" };
      case "terminate": {
        const entity = [...this.state.entities.values()].find((item) => item.run.pid === effect.pid);
        this.terminated.push(effect.pid);
        return entity === undefined ? null : { kind: "died", at: this.at, entity: entity.name, pid: effect.pid, abnormal: false, reason: "killed by SIGTERM" };
      }
      case "assign":
        this.roles.push({ entity: effect.entity, role: effect.role, seq: effect.seq, token: effect.token });
        return null;
      case "reply-error":
        this.replies.set(effect.ref, { error: `${effect.code}: ${effect.message}` });
        return null;
      default:
        return null;
    }
  }

  request(op: string, args: Record<string, unknown>, caller = { pid: 1, token: null as string | null }, pidStart: number | null = null) {
    const ref = this.ref++;
    this.send({ kind: "request", at: this.at, ref, op, args, caller, pidStart });
    const reply = this.replies.get(ref);
    if (reply?.error !== undefined) throw new Error(reply.error);
    return reply?.result;
  }

  // Moves the clocks on, firing every timer that falls due, in deadline order.
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = [...this.timers].filter(([, at]) => at <= end).sort((a, b) => a[1] - b[1])[0];
      if (due === undefined) break;
      this.wall += due[1] - this.mono > 0 ? due[1] - this.mono : 0;
      this.mono = Math.max(this.mono, due[1]);
      this.timers.delete(due[0]);
      this.send({ kind: "timer", at: this.at, id: due[0] });
    }
    this.wall += end - this.mono;
    this.mono = end;
  }

  entity(name: string) {
    const entity = this.state.entities.get(name);
    if (entity === undefined) throw new Error(`no entity ${name}`);
    return entity;
  }

  pid(name: string): number {
    return this.entity(name).run.pid;
  }

  kill(name: string, abnormal = false): void {
    this.send({ kind: "died", at: this.at, entity: name, pid: this.pid(name), abnormal, reason: abnormal ? "killed by SIGSEGV" : "killed by SIGKILL" });
  }

  events(): unknown[] {
    return this.log.map((line) => line.event);
  }

  spawned(): string[] {
    return this.effects.flatMap((effect) => (effect.kind === "spawn" ? [effect.entity] : []));
  }

  executed(): string[] {
    return this.effects.flatMap((effect) => (effect.kind === "execute" ? [effect.line] : []));
  }

  // A service: attached by command line, with a death condition that restarts it.
  service(name: string, policy: Record<string, unknown> = { minUptimeMs: 0 }, flags = Q.HREARMAFTERRESTART): void {
    this.request("attach", { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 });
    this.request("policy", { ename: name, policy });
    this.request("condition", { ename: name, cname: "death", type: Q.CONDDEATH, flags });
    this.request("action", { ename: name, cname: "death", aname: "restart", kind: "restart", line: `/bin/${name}`, flags });
  }
}

// Writes the state's records as the journal would, and reads them back as a new HAM.
export function takeOver(world: World, alive: Record<string, boolean>, found: Record<string, number> = {}): World {
  const state = world.state;
  const values = new Map(stateKeys(state).filter((key) => key !== "m").map((key) => [key, recordOf(state, key)]));
  const records: CheckedRecords = {
    meta: { version: 2, hamFailures: 0, guardianFailures: 0, verbosity: 2, nextFiringId: state.meta.nextFiringId, nextChid: 1, spawnCount: 0, channels: [], config: { applied: [], global: [] } },
    entities: [...values].filter(([key]) => key === "g" || key.startsWith("e/")).map(([, value]) => { expect(isEntityValue(value)).toBe(true); return value as never; }),
    conditions: [...values].filter(([key]) => key.startsWith("c/")).map(([key, value]) => { expect(isConditionValue(value)).toBe(true); return [key.slice(2, key.indexOf("/", 2)), value as never] as const; }),
    firings: [...values].filter(([key]) => key.startsWith("f/")).map(([, value]) => { expect(isFiringValue(value)).toBe(true); return value as never; }),
    groups: [...values].filter(([key]) => key.startsWith("G/")).map(([, value]) => { expect(isGroupValue(value)).toBe(true); return value as never; }),
  };
  const next = new World(initialState(2, 2, world.wall));
  next.wall = world.wall;
  next.mono = world.mono;
  next.nextPid = world.nextPid + 100;
  const restored = restoreState(next.state, records);
  next.state = restored.state;
  next.send({
    kind: "takeover", at: next.at, firings: restored.firings,
    facts: { hamPid: 2, takeover: true, torn: null, alive: new Map(Object.entries(alive)), found: new Map(Object.entries(found).map(([name, pid]) => [name, { pid, startTime: 3 }])) },
  });
  return next;
}
