import type { ActionSpec, EntityKind, FailSpec, HeartbeatState, RestartPolicy } from "../../lib/tree/types.js";
import { freshBeat } from "../core/heartbeats.js";
import { emptyIndex, indexOf, ordered } from "../core/state.js";
import type { Action, Condition, EntityCounters, EntityState, Firing, GroupState, HamState, Meta } from "../core/state.js";
import { queueOf } from "../core/firings.js";
import { conditionKey, entityKey, firingKey, groupKey, META_KEY } from "../core/tx.js";
import type { Trigger } from "../core/triggers.js";
import { checkpointKeys, checkpointRecordOf, isCheckpointKey, restoreCheckpoints, type CheckpointValue, type SectionValue } from "./checkpoint-records.js";

// The shared state's records (one per key, tx.ts) and the HamState they come from and go
// back to. The layout is version 2 (state-version.ts): an entity's spec, counters and run
// are one flat record, as they always were.

// An entity's record: its spec, its counters (EntityCounters, as they are) and the part of its
// run a HAM that takes over needs, flat.
export interface EntityValue extends EntityCounters {
  readonly name: string;
  readonly kind: EntityKind;
  readonly pid: number;
  readonly startTime: number | null;
  readonly ownChild: boolean;
  readonly command: string | null;
  readonly flags: number;
  readonly enabled: boolean;
  readonly heartbeat: {
    readonly periodNs: number; readonly low: number; readonly high: number; readonly state: HeartbeatState;
    readonly beatInPeriod: boolean; readonly consecutiveMisses: number; readonly lastBeatMs: number | null;
  } | null;
  readonly policy: RestartPolicy;
  readonly spawnToken: string | null;
  readonly restartAt: number | null;
  readonly clientToken: string | null;
  // The death being handled: whether it restarted the entity yet (null: none).
  readonly episode: { readonly restarted: boolean } | null;
  // The session of its process's role callback (absent before groups existed).
  readonly roleToken?: string | null;
}

// A service group's record: the group as it is (plain data).
export type GroupValue = GroupState;

interface FailValue {
  readonly name: string;
  readonly spec: FailSpec;
  readonly runs: number;
  readonly failures: number;
}

interface ActionValue {
  readonly name: string;
  readonly spec: ActionSpec;
  readonly flags: number;
  readonly enabled: boolean;
  readonly runs: number;
  readonly failures: number;
  readonly fails: readonly FailValue[] | null;
}

// A condition's record: the condition as it is, with its actions as a list.
export interface ConditionValue extends Omit<Condition, "actions"> {
  readonly actions: readonly ActionValue[];
}

export interface FiringValue {
  readonly id: number;
  readonly entity: string;
  readonly owner: string | null; // null: the global entity
  readonly condition: string;
  readonly actions: readonly string[];
  readonly event: Trigger;
  readonly episode: boolean;
  readonly next: number;
  readonly waitUntil: number | null;
  // An execute the HAM started to spawn (its index), not yet marked completed (absent in version 1).
  readonly launched?: number | null;
}

export interface ConfigValue {
  readonly applied: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]>;
  readonly global: ReadonlyArray<readonly [string, readonly string[]]>;
}

// HAM-wide facts; `nextChid` and `channels` are the request server's (pulse channels).
export interface MetaValue {
  readonly version?: number;
  readonly hamFailures: number;
  readonly guardianFailures: number;
  readonly verbosity: number;
  readonly nextFiringId: number;
  // Ids of conditions' order and checkpoints (absent in states written before checkpoints).
  readonly nextOrder?: number;
  readonly nextChid: number;
  readonly spawnCount: number;
  readonly channels: ReadonlyArray<readonly [number, number, string | null]>;
  readonly config: ConfigValue;
}

// ---- state → records

export function entityValue(entity: EntityState): EntityValue {
  const { spec, counters, run } = entity;
  const beat = run.heartbeat;
  return {
    name: entity.name, kind: spec.kind, pid: run.pid, startTime: run.startTime, ownChild: run.ownChild, command: spec.command,
    flags: spec.flags, enabled: spec.enabled,
    heartbeat: spec.heartbeat === null || beat === null ? null : {
      ...spec.heartbeat, state: beat.state, beatInPeriod: beat.beatInPeriod, consecutiveMisses: beat.consecutiveMisses, lastBeatMs: beat.lastBeatMs,
    },
    policy: spec.policy, ...counters,
    spawnToken: run.spawnToken, restartAt: run.restartAt, clientToken: run.clientToken,
    episode: run.episode === null ? null : { restarted: run.episode.restarted }, roleToken: run.roleToken,
  };
}

export function conditionValue(condition: Condition): ConditionValue {
  const { actions, ...rest } = condition;
  return {
    ...rest,
    actions: [...actions.values()].map(({ id: _id, fails, ...action }) => ({ ...action, fails: fails === null ? null : [...fails.values()] })),
  };
}

export function firingValue(firing: Firing): FiringValue {
  return {
    id: firing.id, entity: firing.entity, owner: firing.owner === "" ? null : firing.owner, condition: firing.condition,
    actions: firing.actions.map((action) => action.name), event: firing.trigger, episode: firing.episode,
    next: firing.next, waitUntil: firing.waitUntil, launched: firing.launched,
  };
}

export function configValue(meta: Meta): ConfigValue {
  return {
    applied: [...meta.config.applied].map(([source, names]) => [source, [...names]] as const),
    global: [...meta.config.global],
  };
}

// Every key the state has a record for (a snapshot writes them all).
export function stateKeys(state: HamState): string[] {
  const keys = [META_KEY, entityKey("")];
  for (const name of state.entities.keys()) keys.push(entityKey(name));
  for (const owner of [state.global, ...state.entities.values()]) {
    for (const cname of owner.conditions.keys()) keys.push(conditionKey(owner.name, cname));
  }
  for (const firing of state.firings.values()) if (!firing.transient) keys.push(firingKey(firing.id));
  for (const name of state.groups.keys()) keys.push(groupKey(name));
  keys.push(...checkpointKeys(state));
  return keys;
}

// The record of one key of the core's state (the meta record is the daemon's: it adds the
// server's channels); undefined when the state has none (a removed item: a delete record).
export function recordOf(state: HamState, key: string): unknown {
  if (key === "g") return entityValue(state.global);
  if (key.startsWith("e/")) {
    const entity = state.entities.get(key.slice(2));
    return entity === undefined ? undefined : entityValue(entity);
  }
  if (key.startsWith("c/")) {
    const slash = key.indexOf("/", 2);
    const owner = key.slice(2, slash);
    const entity = owner === "" ? state.global : state.entities.get(owner);
    const condition = entity?.conditions.get(key.slice(slash + 1));
    return condition === undefined ? undefined : conditionValue(condition);
  }
  if (key.startsWith("f/")) {
    const firing = state.firings.get(Number(key.slice(2)));
    return firing === undefined || firing.transient ? undefined : firingValue(firing);
  }
  if (key.startsWith("G/")) return state.groups.get(key.slice(2));
  if (isCheckpointKey(key)) return checkpointRecordOf(state, key);
  return undefined;
}

// ---- records → state

export interface Restored {
  readonly state: HamState;
  // Firings under way, in the order they fired: the takeover queues them again.
  readonly firings: readonly Firing[];
}

export interface CheckedRecords {
  readonly meta: MetaValue | null;
  readonly entities: readonly EntityValue[];
  readonly conditions: ReadonlyArray<readonly [string, ConditionValue]>;
  readonly firings: readonly FiringValue[];
  readonly groups?: readonly GroupValue[];
  // Checkpoint headers, and sections as [checkpoint, section, value] (checkpoint-records.ts).
  readonly checkpoints?: readonly CheckpointValue[];
  readonly sections?: ReadonlyArray<readonly [string, string, SectionValue]>;
}

export function entityFromValue(value: EntityValue): EntityState {
  const { heartbeat } = value;
  return {
    name: value.kind === "global" ? "" : value.name,
    spec: {
      // A state written before output limits existed has none: the defaults.
      kind: value.kind, command: value.command, flags: value.flags, enabled: value.enabled, policy: { ...value.policy, output: value.policy.output ?? null, faults: value.policy.faults ?? null },
      heartbeat: heartbeat === null ? null : { periodNs: heartbeat.periodNs, low: heartbeat.low, high: heartbeat.high },
    },
    counters: {
      createdMs: value.createdMs, startedMs: value.startedMs, lastDeathMs: value.lastDeathMs, restartedMs: value.restartedMs,
      restarts: value.restarts, deaths: value.deaths, abnormalDeaths: value.abnormalDeaths, missedLow: value.missedLow,
      missedHigh: value.missedHigh, lastState: value.lastState, lastExit: value.lastExit, restartTimes: value.restartTimes,
      backoffMs: value.backoffMs, gaveUp: value.gaveUp,
      // Availability (absent in a state written before it was counted: counted from now on).
      upMs: value.upMs ?? 0, downMs: value.downMs ?? 0, since: value.since ?? null, firstUpMs: value.firstUpMs ?? null,
      repairs: value.repairs ?? 0, outages: value.outages ?? [],
    },
    run: {
      pid: value.pid, startTime: value.startTime, ownChild: value.ownChild, spawnToken: value.spawnToken, restartAt: value.restartAt,
      clientToken: value.clientToken,
      heartbeat: heartbeat === null ? null : {
        ...freshBeat(), state: heartbeat.state, consecutiveMisses: heartbeat.consecutiveMisses, lastBeatMs: heartbeat.lastBeatMs,
      },
      episode: value.episode === null ? null : { pending: 1, restarted: value.episode.restarted, resumed: true },
      roleToken: value.roleToken ?? null,
    },
    conditions: ordered(),
  };
}

// Rebuilds the core's state from checked records; `base` gives what the records lack (this
// HAM's pid, its clock's now).
export function restoreState(base: HamState, records: CheckedRecords): Restored {
  let nextActionId = base.meta.nextActionId;
  let nextOrder = base.meta.nextOrder;
  const entities = new Map<string, EntityState>();
  let global = base.global;
  for (const value of records.entities) {
    const entity = entityFromValue(value);
    if (entity.name === "") global = { ...global, spec: { ...global.spec, enabled: entity.spec.enabled } };
    else entities.set(entity.name, entity);
  }
  // Each entity's conditions in the order they were made.
  const conditions = [...records.conditions].sort((a, b) => a[1].order - b[1].order);
  const byOwner = new Map<string, Map<string, Condition>>();
  for (const [owner, value] of conditions) {
    if (owner !== "" && !entities.has(owner)) continue;
    let map = byOwner.get(owner);
    if (map === undefined) byOwner.set(owner, (map = new Map()));
    const actions = ordered<Action>(value.actions.map((action) => [action.name, {
      ...action, id: nextActionId++, fails: action.fails === null ? null : new Map(action.fails.map((fail) => [fail.name, fail])),
    }]));
    map.set(value.name, { ...value, actions });
    nextOrder = Math.max(nextOrder, value.order + 1);
  }
  for (const [owner, map] of byOwner) {
    if (owner === "") global = { ...global, conditions: ordered(map) };
    else {
      const entity = entities.get(owner);
      if (entity !== undefined) entities.set(owner, { ...entity, conditions: ordered(map) });
    }
  }
  const meta = records.meta;
  const firingValues = [...records.firings].sort((a, b) => a.id - b.id);
  const nextFiringId = Math.max(meta?.nextFiringId ?? 1, ...firingValues.map((value) => value.id + 1));
  const config = meta === null ? base.meta.config : {
    applied: new Map(meta.config.applied.map(([source, names]) => [source, new Map(names)])),
    global: new Map(meta.config.global),
  };
  // A checkpoint's id comes from nextOrder too (core/checkpoints.ts).
  const { checkpoints, nextId } = restoreCheckpoints(records.checkpoints ?? [], records.sections ?? []);
  const state: HamState = {
    meta: {
      ...base.meta, hamFailures: meta?.hamFailures ?? 0, guardianFailures: meta?.guardianFailures ?? 0,
      verbosity: meta?.verbosity ?? base.meta.verbosity, nextFiringId, nextActionId, nextOrder: Math.max(nextOrder, nextId, meta?.nextOrder ?? 0),
      spawnCount: meta?.spawnCount ?? 0, config,
    },
    global,
    entities: entities.size === 0 ? emptyIndex() : indexOf(entities),
    groups: indexOf((records.groups ?? []).map((group) => [group.name, group] as const)),
    firings: base.firings.clear(),
    queues: base.queues.clear(),
    checkpoints,
  };
  const firings: Firing[] = [];
  for (const value of firingValues) {
    const firing = firingFrom(state, value);
    if (firing !== null) firings.push(firing);
  }
  return { state, firings };
}

function firingFrom(state: HamState, value: FiringValue): Firing | null {
  const entity = value.entity === "" ? state.global : state.entities.get(value.entity);
  const ownerName = value.owner ?? "";
  const owner = ownerName === "" ? state.global : state.entities.get(ownerName);
  const condition = owner?.conditions.get(value.condition);
  if (entity === undefined || condition === undefined) return null;
  // Actions pruned or removed since the condition fired are skipped, as they would have been.
  const actions = value.actions.map((name) => condition.actions.get(name)).filter((action): action is Action => action !== undefined);
  // An execute the dead HAM launched counts as run: it may have run already (at most once).
  const completed = value.launched === value.next ? value.next + 1 : value.next;
  const next = Math.min(actions.length, value.actions.slice(0, completed).filter((name) => condition.actions.has(name)).length);
  return {
    id: value.id, entity: value.entity, owner: ownerName, condition: value.condition, actions, trigger: value.event,
    episode: value.episode, next, waitUntil: value.waitUntil, launched: null, running: null, transient: false,
    queue: queueOf(value.entity, ownerName, condition),
  };
}
