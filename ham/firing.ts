import { HACTIONBREAKONFAIL, HACTIONKEEPONFAIL, HCONDKEEPONEMPTY } from "../lib/constants.js";
import { describeSpec, entityPath } from "../lib/tree/render.js";
import type { Action, ActionSpec, Condition, Entity, FailSpec } from "../lib/tree/types.js";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import { monoMs } from "./clock.js";
import type { HamEvent } from "./events.js";

// One condition that fired: its actions, captured when it fired, run FIFO in its queue.
// Pruning after a restart does not cancel a firing already queued ("fire, then prune");
// an action removed through the API meanwhile is skipped.
export interface Firing {
  // Numbered in the order conditions fired (0: not kept in the state, e.g. HACTIONDONOW).
  readonly id: number;
  // The entity the event happened to.
  readonly entity: Entity;
  // The entity owning the condition: `entity` itself or the global entity.
  readonly owner: Entity;
  readonly condition: Condition;
  readonly actions: readonly Action[];
  readonly event: HamEvent;
  // Part of a death's episode (pruning or removal waits for it).
  readonly episode: boolean;
  // Index of the first action not completed; a waitfor under way ends at waitUntil (monoMs).
  next: number;
  waitUntil: number | null;
  // The execute at this index was launched (journaled just before its spawn), not yet marked
  // completed: a HAM that takes over does not run it again (at most once, not at least once).
  launched: number | null;
}

// What actions need from the rest of the HAM.
export interface ActionEffects {
  restart(entity: Entity, line: string): Promise<boolean>;
  execute(entity: Entity, line: string): boolean;
  waitFor(path: string | null, delayMs: number): Promise<boolean>;
  pulse(pid: number, chid: number, code: number, value: number): boolean;
  signal(pid: number, signal: number): boolean;
  healthy(entity: Entity): void;
}

export class FiringRunner {
  constructor(
    private readonly effects: ActionEffects,
    private readonly log: ActivityLog,
    // Called when a firing moved on (an action completed, a waitfor started): the state keeps it.
    private readonly onProgress: (firing: Firing) => void = () => undefined,
    // Called just before an execute is spawned: the state must hold that at once.
    private readonly onLaunch: (firing: Firing) => void = () => undefined,
  ) {}

  // Runs the firing's actions from the first one not completed (a firing taken over from a
  // dead HAM continues where it stopped).
  async run(firing: Firing): Promise<void> {
    for (let index = firing.next; index < firing.actions.length; index += 1) {
      const action = firing.actions[index] as Action;
      if (action.removed || !action.enabled) continue;
      if (action.spec.kind === "execute" && firing.id !== 0) {
        firing.launched = index;
        this.onLaunch(firing);
      }
      const ok = await this.runAction(firing, action);
      if (!ok) await this.afterFailure(firing, action);
      firing.next = index + 1;
      firing.launched = null;
      firing.waitUntil = null;
      this.onProgress(firing);
      if (!ok && (action.flags & HACTIONBREAKONFAIL) !== 0) {
        this.log.write(LOG_LEVEL.detail, "info", this.fields(firing, action), "rest of the list skipped (HACTIONBREAKONFAIL)");
        break;
      }
    }
  }

  // Runs one action now (also used for HACTIONDONOW); returns success.
  async runAction(firing: Firing, action: Action): Promise<boolean> {
    action.runs += 1;
    this.log.write(LOG_LEVEL.detail, "info", { ...this.fields(firing, action), event: "action" }, `run ${describeSpec(action.spec)}`);
    let ok: boolean;
    try {
      ok = await this.perform(firing, action.name, action.spec);
    } catch (error) {
      this.log.write(LOG_LEVEL.events, "warn", this.fields(firing, action), `action threw: ${String(error)}`);
      ok = false;
    }
    if (!ok) action.failures += 1;
    return ok;
  }

  private async afterFailure(firing: Firing, action: Action): Promise<void> {
    const fields = { ...this.fields(firing, action), event: "action-failed" };
    this.log.write(LOG_LEVEL.events, "warn", fields, `action failed: ${describeSpec(action.spec)}`);
    for (const fail of [...(action.fails?.values() ?? [])]) {
      fail.runs += 1;
      const ok = await Promise.resolve().then(() => this.perform(firing, `${action.name}!${fail.name}`, fail.spec)).catch(() => false);
      if (!ok) {
        fail.failures += 1;
        this.log.write(LOG_LEVEL.events, "warn", { ...fields, fail: fail.name }, `fail-action failed: ${describeSpec(fail.spec)}`);
      }
    }
    if ((action.flags & HACTIONKEEPONFAIL) !== 0) return;
    const condition = firing.condition;
    if (condition.actions.get(action.name) === action) {
      condition.actions.delete(action.name);
      action.removed = true;
      this.log.write(LOG_LEVEL.events, "info", fields, "failed action removed (no HACTIONKEEPONFAIL)");
      if (condition.actions.size === 0 && (condition.flags & HCONDKEEPONEMPTY) === 0 &&
        firing.owner.conditions.get(condition.name) === condition) {
        firing.owner.conditions.delete(condition.name);
        this.log.write(LOG_LEVEL.events, "info", fields, "emptied condition removed (no HCONDKEEPONEMPTY)");
      }
    }
  }

  private perform(firing: Firing, label: string, spec: ActionSpec | FailSpec): Promise<boolean> | boolean {
    switch (spec.kind) {
      case "restart":
        return this.effects.restart(firing.entity, spec.line);
      case "execute":
        return this.effects.execute(firing.entity, spec.line);
      case "waitfor": {
        // The end of the wait is kept in the state, so a new HAM waits only what is left.
        if (firing.waitUntil === null) {
          firing.waitUntil = monoMs() + spec.delayMs;
          this.onProgress(firing);
        }
        return this.effects.waitFor(spec.path, Math.max(0, firing.waitUntil - monoMs()));
      }
      case "pulse":
        return this.effects.pulse(spec.pid, spec.chid, spec.code, spec.value);
      case "signal":
        return this.effects.signal(spec.pid, spec.signal);
      case "healthy":
        this.effects.healthy(firing.entity);
        return true;
      case "log": {
        const prefix = spec.prefix ? `${entityPath(firing.entity)}/${firing.condition.name}/${label}: ` : "";
        this.log.write(spec.verbosity, "info", { event: "log-action", entity: firing.entity.name }, `${prefix}${spec.message}`);
        return true;
      }
    }
  }

  private fields(firing: Firing, action: Action): Record<string, unknown> {
    return { entity: entityPath(firing.entity), condition: `${entityPath(firing.owner)}/${firing.condition.name}`, action: action.name };
  }
}
