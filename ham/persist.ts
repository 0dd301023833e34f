import type { Action, Condition, Entity, FailAction } from "../lib/tree/types.js";
import type { HamEvent } from "./events.js";
import type { Firing } from "./firing.js";
import type { CompactionStats, StateStore } from "./store.js";
import { ReplyMemory } from "../lib/wire/reply-memory.js";

// What of the HAM goes into the shared state, and how it comes back. Keys (format.ts):
// "g" the global entity, "e/<name>" an entity, "c/<entity>/<condition>" one condition with
// its actions ("c//<condition>" for the global entity), "f/<id>" a firing under way, "m"
// HAM-wide facts, "r/<token>/<id>" the reply to a client's mutation (a retried request gets
// it again). A change to one condition writes only that condition; a condition carries its
// place among its entity's conditions (`order`), and a removed one gets a delete record.

export interface EntityValue extends Omit<Entity, "conditions"> {
  // The death being handled: whether it restarted the entity yet (null: none).
  readonly episode: { readonly restarted: boolean } | null;
}
export interface ConditionValue extends Omit<Condition, "actions"> {
  readonly order: number;
  readonly actions: ActionValue[];
}
interface ActionValue extends Omit<Action, "fails"> {
  readonly fails: FailAction[] | null;
}

// What config files were applied (config-apply.ts), kept so a HAM that takes over re-applies them as a diff.
export interface ConfigState {
  readonly applied: Array<[string, Array<[string, string]>]>;
  readonly global: Array<[string, string[]]>;
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
  // An execute the HAM started to spawn (its index), not yet marked completed (absent in older states).
  readonly launched?: number | null;
}

export interface MetaValue {
  // The layout's version (state-version.ts); absent in version 1.
  readonly version?: number;
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
  const { conditions: _conditions, ...rest } = entity;
  return { ...rest, episode };
}

export function conditionValue(condition: Condition, order: number): ConditionValue {
  return {
    ...condition,
    order,
    actions: [...condition.actions.values()].map((action) => ({ ...action, fails: action.fails === null ? null : [...action.fails.values()] })),
  };
}

export function entityFromValue(value: EntityValue): Entity {
  const { episode: _episode, ...rest } = value;
  return { ...rest, conditions: new Map() };
}

export function conditionFromValue(value: ConditionValue): Condition {
  const { order: _order, actions, ...rest } = value;
  return {
    ...rest,
    actions: new Map(actions.map((action) => [action.name, {
      ...action, removed: false, fails: action.fails === null ? null : new Map(action.fails.map((fail) => [fail.name, fail])),
    }])),
  };
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
    launched: firing.launched,
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
  // The replies already sent for mutations: token → request id → reply.
  // A client has a handful of requests in flight at most: the last 64 of each are kept.
  readonly sentReplies = new ReplyMemory(64);
  // Which condition keys the state holds for each entity (so a removal gets a delete
  // record), and each condition's place in its entity.
  private readonly known = new Map<Entity, Set<string>>();
  private readonly order = new WeakMap<Condition, number>();
  private nextOrder = 1;

  constructor(
    private readonly store: StateStore,
    private readonly source: JournalSource,
    private readonly compactAtBytes: number,
    private readonly onCompacted: (stats: CompactionStats) => void,
    // Told the keys each record set or deleted.
    private readonly onCommitted: (keys: readonly string[]) => void = () => undefined,
  ) {}

  entity(entity: Entity): void {
    this.entities.add(entity);
    this.removedKeys.delete(entityKey(entity));
    this.schedule();
  }

  condition(owner: Entity, condition: Condition): void {
    this.conditions.set(conditionKey(owner, condition), [owner, condition]);
    this.entities.add(owner); // a removal among its conditions shows there
    this.schedule();
  }

  orderOf(condition: Condition): number {
    let order = this.order.get(condition);
    if (order === undefined) this.order.set(condition, (order = this.nextOrder++));
    return order;
  }

  // Takeover: a condition read back from the state.
  restored(owner: Entity, condition: Condition, order: number): void {
    this.order.set(condition, order);
    this.nextOrder = Math.max(this.nextOrder, order + 1);
    let names = this.known.get(owner);
    if (names === undefined) this.known.set(owner, (names = new Set()));
    names.add(condition.name);
  }

  // Every condition of an entity (after pruning, a config change, a restore).
  allConditions(owner: Entity): void {
    for (const condition of owner.conditions.values()) this.condition(owner, condition);
  }

  removed(entity: Entity): void {
    this.entities.delete(entity);
    this.removedKeys.add(entityKey(entity));
    for (const name of this.known.get(entity) ?? []) this.removedKeys.add(`c/${entity.name}/${name}`);
    this.known.delete(entity);
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

  sentReply(token: string, id: number): unknown {
    return this.sentReplies.recall(token, id);
  }

  // `fromState`: read back at a takeover, already in the state (nothing to write).
  reply(token: string, id: number, reply: unknown, fromState = false): void {
    const dropped = this.sentReplies.remember(token, id, reply);
    if (dropped !== null) this.removedKeys.add(`r/${token}/${dropped}`);
    if (!fromState) this.replies.set(`r/${token}/${id}`, reply);
  }

  forgetClient(token: string): void {
    const ids = this.sentReplies.forget(token);
    for (const id of ids) this.removedKeys.add(`r/${token}/${id}`);
    if (ids.length > 0) this.schedule();
  }

  replyKeys(): string[] {
    return [...this.sentReplies.entries()].map(([token, id]) => `r/${token}/${id}`);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const set: Record<string, unknown> = {};
    for (const [key, [owner, condition]] of this.conditions) {
      if (owner.conditions.get(condition.name) !== condition) continue; // removed meanwhile
      set[key] = conditionValue(condition, this.orderOf(condition));
      let names = this.known.get(owner);
      if (names === undefined) this.known.set(owner, (names = new Set()));
      names.add(condition.name);
    }
    for (const entity of this.entities) {
      if (entity.kind !== "global") set[entityKey(entity)] = this.source.entityValue(entity);
      else set["g"] = this.source.entityValue(entity);
      const names = this.known.get(entity);
      if (names === undefined || names.size <= entity.conditions.size) continue;
      for (const name of names) {
        if (entity.conditions.has(name)) continue;
        names.delete(name);
        this.removedKeys.add(`c/${entity.name}/${name}`);
      }
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
    this.onCommitted([...Object.keys(set), ...del]);
    if (this.store.journalBytes > Math.max(this.compactAtBytes, 2 * this.store.snapshotBytes) && !this.store.busy) {
      void this.store.compact(() => this.source.keys(), (key) => this.source.valueOf(key)).then(this.onCompacted, () => undefined);
    }
  }
}
