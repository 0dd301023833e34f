import { accounted } from "./availability.js";
import type { Effect } from "./effects.js";
import type { At } from "./events.js";
import type { LogLevelName } from "./describe.js";
import { checkpointKey, sectionKey, type Checkpoint } from "./checkpoints/checkpoint-data.js";
import { probeChange } from "./probe-change.js";
import type { Condition, EntityCounters, EntityRun, EntitySpec, EntityState, Firing, GroupState, HamState, Index, Meta, Ordered } from "./state.js";

// Keys of the shared state's records (lib/store/format.ts): "g" the global entity, "e/<name>"
// an entity, "c/<entity>/<condition>" a condition ("c//<condition>" for the global entity),
// "f/<id>" a firing under way, "m" HAM-wide facts.
export const entityKey = (name: string): string => (name === "" ? "g" : `e/${name}`);
export const conditionKey = (owner: string, condition: string): string => `c/${owner}/${condition}`;
export const firingKey = (id: number): string => `f/${id}`;
export const META_KEY = "m";
export const groupKey = (name: string): string => `G/${name}`;

// What a transition returns: the next state, what the world must do, and which records of
// the shared state changed (the one place that says what changed).
export interface StepResult {
  readonly state: HamState;
  readonly effects: readonly Effect[];
  readonly changes: ReadonlySet<string>;
}

// One transition under way: a working copy of the state that shares everything it did not
// change, the effects asked for so far, and the keys changed. Nothing of `base` is ever
// changed, so a transition that fails is dropped whole (an apply is all or nothing).
export class Tx {
  meta: Meta;
  global: EntityState;
  entities: Index<EntityState>;
  groups: Index<GroupState>;
  firings: HamState["firings"];
  queues: HamState["queues"];
  checkpoints: HamState["checkpoints"];
  readonly effects: Effect[] = [];
  readonly changes = new Set<string>();

  constructor(base: HamState, readonly at: At) {
    this.meta = base.meta;
    this.global = base.global;
    this.entities = base.entities;
    this.groups = base.groups;
    this.firings = base.firings;
    this.queues = base.queues;
    this.checkpoints = base.checkpoints;
  }

  result(): StepResult {
    const state: HamState = {
      meta: this.meta, global: this.global, entities: this.entities, groups: this.groups,
      firings: this.firings, queues: this.queues, checkpoints: this.checkpoints,
    };
    return { state, effects: this.effects, changes: this.changes };
  }

  // The state as it stands in this transition.
  get state(): HamState {
    return this.result().state;
  }

  // ---- entities ("" is the global entity)

  entity(name: string): EntityState | undefined {
    return name === "" ? this.global : this.entities.get(name);
  }

  put(entity: EntityState): EntityState {
    this.replace(entity);
    this.changes.add(entityKey(entity.name));
    return entity;
  }

  // The entity's record does not change: its conditions are records of their own, and a beat
  // or a heartbeat period is not kept (quietRun).
  // Availability is accounted here, the one place every change of an entity passes: when its
  // pid goes from none to a process, or back (availability.ts).
  private replace(next: EntityState): void {
    const before = this.entity(next.name);
    const wasUp = (before?.run.pid ?? 0) > 0;
    const isUp = next.run.pid > 0;
    let entity = wasUp === isUp || next.name === "" ? next : { ...next, counters: accounted(next.counters, wasUp, isUp, this.at.wall) };
    if ((before?.run.waiting ?? false) !== entity.run.waiting) this.indexWaiting(entity.name, entity.run.waiting);
    // Probes start and stop with the process, and count again from zero (probe-change.ts).
    const probe = probeChange(before, entity);
    if (probe !== null) this.effects.push(probe);
    if (before !== undefined && before.run.pid !== entity.run.pid && entity.run.probes != null) entity = { ...entity, run: { ...entity.run, probes: null } };
    else if (probe?.kind === "probe-start") entity = { ...entity, run: { ...entity.run, probes: null } };
    if (entity.name === "") this.global = entity;
    else this.entities = this.entities.set(entity.name, entity);
  }

  spec(name: string, patch: Partial<EntitySpec>): EntityState | undefined {
    const entity = this.entity(name);
    return entity === undefined ? undefined : this.put({ ...entity, spec: { ...entity.spec, ...patch } });
  }

  counters(name: string, patch: Partial<EntityCounters>): EntityState | undefined {
    const entity = this.entity(name);
    return entity === undefined ? undefined : this.put({ ...entity, counters: { ...entity.counters, ...patch } });
  }

  run(name: string, patch: Partial<EntityRun>): EntityState | undefined {
    const entity = this.entity(name);
    return entity === undefined ? undefined : this.put({ ...entity, run: { ...entity.run, ...patch } });
  }

  // A change the shared state does not keep (a beat, the end of a heartbeat period): a HAM that
  // takes over gives every heartbeat one period of grace instead. Written along with the
  // entity's next kept change.
  quietRun(name: string, patch: Partial<EntityRun>): void {
    const entity = this.entity(name);
    if (entity !== undefined) this.replace({ ...entity, run: { ...entity.run, ...patch } });
  }


  remove(name: string): void {
    const entity = this.entities.get(name);
    if (entity === undefined) return;
    this.entities = this.entities.delete(name);
    if (entity.run.waiting) this.indexWaiting(name, false);
    this.changes.add(entityKey(name));
    const probe = probeChange(entity, undefined);
    if (probe !== null) this.effects.push(probe);
    for (const cname of entity.conditions.keys()) this.changes.add(conditionKey(name, cname));
  }

  // The index of waiting entities (Meta.waiting): derived, so not a change of the HAM-wide record.
  private indexWaiting(name: string, waiting: boolean): void {
    const next = new Set(this.meta.waiting);
    if (waiting) next.add(name);
    else next.delete(name);
    this.meta = { ...this.meta, waiting: next };
  }

  // ---- service groups: a group's availability is accounted here, whenever it goes from a
  // serving member to none or back (`groupServes`, below).

  putGroup(next: GroupState): GroupState {
    const before = this.groups.get(next.name);
    const wasUp = before !== undefined && groupServes(before);
    const isUp = groupServes(next);
    const group = wasUp === isUp ? next : { ...next, counters: accounted(next.counters, wasUp, isUp, this.at.wall) };
    this.groups = this.groups.set(group.name, group);
    this.changes.add(groupKey(group.name));
    return group;
  }

  deleteGroup(name: string): void {
    if (!this.groups.has(name)) return;
    this.groups = this.groups.delete(name);
    this.changes.add(groupKey(name));
  }

  // ---- conditions

  setCondition(owner: string, condition: Condition): void {
    const entity = this.entity(owner);
    if (entity === undefined) return;
    this.replace({ ...entity, conditions: entity.conditions.set(condition.name, condition) });
    this.changes.add(conditionKey(owner, condition.name));
  }

  deleteCondition(owner: string, name: string): void {
    const entity = this.entity(owner);
    if (entity === undefined || !entity.conditions.has(name)) return;
    this.replace({ ...entity, conditions: entity.conditions.delete(name) });
    this.changes.add(conditionKey(owner, name));
  }

  // Replaces all of an entity's conditions (pruning, a config change).
  setConditions(owner: string, conditions: Ordered<Condition>): void {
    const entity = this.entity(owner);
    if (entity === undefined) return;
    for (const name of entity.conditions.keys()) this.changes.add(conditionKey(owner, name));
    for (const name of conditions.keys()) this.changes.add(conditionKey(owner, name));
    this.replace({ ...entity, conditions });
  }

  // ---- firings and queues

  setFiring(firing: Firing): void {
    this.firings = this.firings.set(firing.id, firing);
    if (!firing.transient) this.changes.add(firingKey(firing.id));
  }

  deleteFiring(id: number): void {
    const firing = this.firings.get(id);
    if (firing === undefined) return;
    this.firings = this.firings.delete(id);
    if (!firing.transient) this.changes.add(firingKey(id));
  }

  setQueue(name: string, ids: readonly number[]): void {
    this.queues = ids.length === 0 ? this.queues.delete(name) : this.queues.set(name, ids);
  }

  // ---- checkpoints (checkpoints.ts): `section` names the one section a write or delete changed

  setCheckpoint(checkpoint: Checkpoint, section?: string): void {
    this.checkpoints = this.checkpoints.set(checkpoint.name, checkpoint);
    this.changes.add(section === undefined ? checkpointKey(checkpoint.name) : sectionKey(checkpoint.name, section));
  }

  removeCheckpoint(name: string): void {
    const checkpoint = this.checkpoints.get(name);
    if (checkpoint === undefined) return;
    this.checkpoints = this.checkpoints.delete(name);
    this.changes.add(checkpointKey(name));
    for (const section of checkpoint.sections.keys()) this.changes.add(sectionKey(name, section));
  }

  // ---- HAM-wide facts

  setMeta(patch: Partial<Meta>): void {
    this.meta = { ...this.meta, ...patch };
    this.changes.add(META_KEY);
  }

  // Ids and counters that need not be written at once: a HAM that takes over starts above every
  // firing id and action id in the state, and a spawn token carries the pid of the HAM that made it.
  nextFiringId(): number {
    const id = this.meta.nextFiringId;
    this.meta = { ...this.meta, nextFiringId: id + 1 };
    return id;
  }

  nextActionId(): number {
    const id = this.meta.nextActionId;
    this.meta = { ...this.meta, nextActionId: id + 1 };
    return id;
  }

  nextOrder(): number {
    const order = this.meta.nextOrder;
    this.meta = { ...this.meta, nextOrder: order + 1 };
    return order;
  }

  nextSpawnToken(entity: string): string {
    const count = this.meta.spawnCount + 1;
    this.meta = { ...this.meta, spawnCount: count };
    return `${this.meta.hamPid}.${count}.${entity}`;
  }

  // ---- effects

  emit(effect: Effect): void {
    this.effects.push(effect);
  }

  log(verbosity: number, level: LogLevelName, fields: Readonly<Record<string, unknown>>, message: string): void {
    this.effects.push({ kind: "log", verbosity, level, fields, message });
  }
}

// The core's timers, named by what they are for. A timer's firing is an event for that one
// thing: no queue and no other entity ever waits on it.
export type TimerFor =
  | { readonly kind: "restart"; readonly firing: number } // a restart's backoff ends
  | { readonly kind: "wait"; readonly firing: number } // a waitfor without a path ends
  | { readonly kind: "heartbeat"; readonly entity: string } // a heartbeat period ends
  | { readonly kind: "self-close"; readonly entity: string; readonly pid: number } // a closed connection's grace ends
  | { readonly kind: "role"; readonly group: string; readonly entity: string; readonly seq: number } // a role's acknowledgement is due
  | { readonly kind: "yield"; readonly group: string } // a cross-node switchover's yield window ends
  | { readonly kind: "unknown"; readonly id: string };

export const restartTimer = (firing: number): string => `restart:${firing}`;
export const waitTimer = (firing: number): string => `wait:${firing}`;
export const heartbeatTimer = (entity: string): string => `hb:${entity}`;
export const selfCloseTimer = (entity: string, pid: number): string => `close:${pid}:${entity}`;
export const roleTimer = (group: string, entity: string, seq: number): string => `role:${seq}:${group}/${entity}`;
export const yieldTimer = (group: string): string => `yield:${group}`;

// Whether some member of the group serves (active or quiescing) and has not failed.
export function groupServes(group: GroupState): boolean {
  return group.members.some((member) => !member.failing && (member.role === "active" || member.role === "quiescing"));
}

export function timerFor(id: string): TimerFor {
  const colon = id.indexOf(":");
  const rest = id.slice(colon + 1);
  switch (id.slice(0, colon)) {
    case "restart":
      return { kind: "restart", firing: Number(rest) };
    case "wait":
      return { kind: "wait", firing: Number(rest) };
    case "hb":
      return { kind: "heartbeat", entity: rest };
    case "close": {
      const second = rest.indexOf(":");
      return { kind: "self-close", pid: Number(rest.slice(0, second)), entity: rest.slice(second + 1) };
    }
    case "role": {
      // Names hold no "/" (names.ts): seq:group/entity.
      const colon = rest.indexOf(":");
      const slash = rest.indexOf("/", colon);
      return { kind: "role", seq: Number(rest.slice(0, colon)), group: rest.slice(colon + 1, slash), entity: rest.slice(slash + 1) };
    }
    case "yield":
      return { kind: "yield", group: rest };
    default:
      return { kind: "unknown", id };
  }
}
