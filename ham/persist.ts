import type { Action, Condition, Entity, FailAction } from "../lib/tree/types.js";
import type { HamEvent } from "./events.js";
import type { ConfigState } from "./config-apply.js";
import type { Firing } from "./firing.js";
import type { CompactionStats, StateStore } from "./store.js";

// What of the HAM goes into the shared state, and how it comes back. Keys (format.ts):
// "g" the global entity, "e/<name>" an entity, "c/<entity>/<condition>" one condition with
// its actions ("c//<condition>" for the global entity), "f/<id>" a firing under way, "m"
// HAM-wide facts, "r/<token>/<id>" the reply to a client's mutation (a retried request gets
// it again). An entity lists its conditions by name, in order: a condition key it does not
// list is stale (removed) and ignored. A change to one condition writes only that condition.

export interface EntityValue extends Omit<Entity, "conditions"> {
  readonly conditions: string[];
  // The death being handled: whether it restarted the entity yet (null: none).
  readonly episode: { readonly restarted: boolean } | null;
}
export interface ConditionValue extends Omit<Condition, "actions"> {
  readonly actions: ActionValue[];
}
interface ActionValue extends Omit<Action, "fails"> {
  readonly fails: FailAction[] | null;
}

export interface FiringValue {
  readonly id: number;
  readonly entity: string;
  readonly owner: string | null; // null: the global entity
  readonly condition: string;
  readonly actions: string[];
  readonly event: HamEvent;
  readonly episode: boolean;
  readonly next: number;
  readonly waitUntil: number | null;
}

export interface MetaValue {
  readonly hamFailures: number;
  readonly guardianFailures: number;
  readonly verbosity: number;
  readonly nextFiringId: number;
  readonly nextChid: number;
  readonly spawnCount: number;
  // Pulse channels: [pid, chid] (their clients reconnect after a takeover).
  readonly channels: Array<[number, number, string | null]>;
  readonly config: ConfigState;
}

export const entityKey = (entity: Entity): string => (entity.kind === "global" ? "g" : `e/${entity.name}`);
export const conditionKey = (owner: Entity, condition: Condition): string => `c/${owner.name}/${condition.name}`;
export const firingKey = (id: number): string => `f/${id}`;

export function entityValue(entity: Entity, episode: { restarted: boolean } | null): EntityValue {
  return { ...entity, episode, conditions: [...entity.conditions.keys()] };
}

export function conditionValue(condition: Condition): ConditionValue {
  return {
    ...condition,
    actions: [...condition.actions.values()].map((action) => ({ ...action, fails: action.fails === null ? null : [...action.fails.values()] })),
  };
}

// The entity without its conditions; `conditionOf` finds each listed one.
export function entityFromValue(value: EntityValue, conditionOf: (name: string) => ConditionValue | undefined): Entity {
  const { episode: _episode, conditions: names, ...rest } = value;
  const conditions = new Map<string, Condition>();
  for (const name of names) {
    const condition = conditionOf(name);
    if (condition === undefined) continue;
    conditions.set(name, {
      ...condition,
      actions: new Map(condition.actions.map((action) => [action.name, {
        ...action, removed: false, fails: action.fails === null ? null : new Map(action.fails.map((fail) => [fail.name, fail])),
      }])),
    });
  }
  return { ...rest, conditions };
}

export function firingValue(firing: Firing): FiringValue {
  return {
    id: firing.id,
    entity: firing.entity.name,
    owner: firing.owner.kind === "global" ? null : firing.owner.name,
    condition: firing.condition.name,
    actions: firing.actions.map((action) => action.name),
    event: firing.event,
    episode: firing.episode,
    next: firing.next,
    waitUntil: firing.waitUntil,
  };
}

export interface JournalSource {
  entityValue(entity: Entity): EntityValue;
  metaValue(): MetaValue;
  // Every key with its current value, for a snapshot.
  keys(): string[];
  valueOf(key: string): unknown;
}

// Collects what changed and writes it as one record: at the end of the current turn of the
// event loop (a microtask), or at once with flush() (before a reply, before a spawn).
export class Journal {
  private readonly entities = new Set<Entity>();
  private readonly conditions = new Map<string, [Entity, Condition]>();
  private readonly removedKeys = new Set<string>();
  private readonly firings = new Map<number, Firing | null>();
  private readonly replies = new Map<string, unknown>();
  private meta = false;
  private scheduled = false;
  // The replies already sent for mutations, by "r/<token>/<id>".
  readonly sentReplies = new Map<string, unknown>();

  constructor(
    private readonly store: StateStore,
    private readonly source: JournalSource,
    private readonly compactAtBytes: number,
    private readonly onCompacted: (stats: CompactionStats) => void,
  ) {}

  entity(entity: Entity): void {
    this.entities.add(entity);
    this.removedKeys.delete(entityKey(entity));
    this.schedule();
  }

  condition(owner: Entity, condition: Condition): void {
    this.conditions.set(conditionKey(owner, condition), [owner, condition]);
    this.schedule();
  }

  // Every condition of an entity (after pruning, a config change, a restore).
  allConditions(owner: Entity): void {
    for (const condition of owner.conditions.values()) this.condition(owner, condition);
  }

  removed(entity: Entity): void {
    this.entities.delete(entity);
    this.removedKeys.add(entityKey(entity));
    this.schedule();
  }

  firing(firing: Firing, done: boolean): void {
    if (firing.id === 0) return;
    this.firings.set(firing.id, done ? null : firing);
    this.schedule();
  }

  metaChanged(): void {
    this.meta = true;
    this.schedule();
  }

  reply(token: string, id: number, reply: unknown): void {
    const key = `r/${token}/${id}`;
    this.replies.set(key, reply);
    this.sentReplies.set(key, reply);
    // A client has a handful of requests in flight at most: forget all but the last 64.
    const old = `r/${token}/${id - 64}`;
    if (this.sentReplies.delete(old)) this.removedKeys.add(old);
  }

  forgetClient(token: string): void {
    const prefix = `r/${token}/`;
    for (const key of this.sentReplies.keys()) {
      if (!key.startsWith(prefix)) continue;
      this.sentReplies.delete(key);
      this.removedKeys.add(key);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const set: Record<string, unknown> = {};
    for (const entity of this.entities) set[entityKey(entity)] = this.source.entityValue(entity);
    for (const [key, [owner, condition]] of this.conditions) {
      // One removed meanwhile needs no record: its entity no longer lists it.
      if (owner.conditions.get(condition.name) === condition) set[key] = conditionValue(condition);
    }
    for (const [id, firing] of this.firings) {
      if (firing === null) this.removedKeys.add(firingKey(id));
      else set[firingKey(id)] = firingValue(firing);
    }
    for (const [key, reply] of this.replies) set[key] = reply;
    if (this.meta) set["m"] = this.source.metaValue();
    const del = [...this.removedKeys].filter((key) => !(key in set));
    this.entities.clear();
    this.conditions.clear();
    this.firings.clear();
    this.replies.clear();
    this.removedKeys.clear();
    this.meta = false;
    if (Object.keys(set).length === 0 && del.length === 0) return;
    this.store.commit(Object.keys(set).length > 0 ? set : undefined, del.length > 0 ? del : undefined);
    if (this.store.journalBytes > this.compactAtBytes && !this.store.busy) {
      void this.store.compact(() => this.source.keys(), (key) => this.source.valueOf(key)).then(this.onCompacted, () => undefined);
    }
  }
}
