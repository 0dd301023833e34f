import type { ActionSpec, EntityKind, FailSpec, HeartbeatState, ProbeSpec, RestartPolicy } from "../../lib/tree/types.js";
import { START_READINESS, type Condition, type EntityCounters, type EntityState, type Firing, type GroupState, type HamState, type Meta, type Readiness } from "../core/state.js";
import { conditionKey, entityKey, firingKey, groupKey, META_KEY } from "../core/tx.js";
import type { Trigger } from "../core/triggers.js";
import type { NodeFact } from "../core/nodes/node-facts.js";
import { checkpointKeys, checkpointRecordOf, isCheckpointKey } from "./checkpoint-records.js";

// The shared state's records (one per key, tx.ts), made from the HamState (restore.ts reads
// them back). The layout is version 2 (state-version.ts): an entity's spec, counters and run
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
  // hamctl stop / delete (absent: neither; and in a state written before they existed).
  readonly stop?: "stop" | "delete";
  readonly heartbeat: {
    readonly periodNs: number; readonly low: number; readonly high: number; readonly state: HeartbeatState;
    readonly beatInPeriod: boolean; readonly consecutiveMisses: number; readonly lastBeatMs: number | null;
  } | null;
  readonly policy: RestartPolicy;
  // Health probes (absent before probes existed).
  readonly probes?: readonly ProbeSpec[];
  readonly spawnToken: string | null;
  readonly restartAt: number | null;
  readonly clientToken: string | null;
  // The death being handled: whether it restarted the entity yet (null: none).
  readonly episode: { readonly restarted: boolean } | null;
  // The session of its process's role callback (absent before groups existed).
  readonly roleToken?: string | null;
  // Readiness and start order (absent before issue 18, and for an entity of readiness "start"
  // that requires nothing): its readiness, whether its process said it is ready, whether it waits.
  readonly readiness?: Readiness;
  readonly ready?: boolean;
  readonly waiting?: boolean;
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
  // In a cluster: the node's etcd lease, kept by the HAM that takes over (absent outside one).
  readonly leaseId?: string;
  // In a cluster: which cluster and node made this state (a start naming another is refused:
  // ham/daemon/cluster-check.ts), and the nodes it knew (core/nodes/node-facts.ts).
  readonly cluster?: { readonly name: string; readonly node: string };
  readonly nodes?: ReadonlyArray<{ readonly name: string } & NodeFact>;
}

// ---- state → records

export function entityValue(entity: EntityState): EntityValue {
  const { spec, counters, run } = entity;
  const beat = run.heartbeat;
  return {
    name: entity.name, kind: spec.kind, pid: run.pid, startTime: run.startTime, ownChild: run.ownChild, command: spec.command,
    flags: spec.flags, enabled: spec.enabled, ...(spec.stop === undefined ? {} : { stop: spec.stop }),
    heartbeat: spec.heartbeat === null || beat === null ? null : {
      ...spec.heartbeat, state: beat.state, beatInPeriod: beat.beatInPeriod, consecutiveMisses: beat.consecutiveMisses, lastBeatMs: beat.lastBeatMs,
    },
    policy: spec.policy, probes: spec.probes, ...counters,
    spawnToken: run.spawnToken, restartAt: run.restartAt, clientToken: run.clientToken,
    episode: run.episode === null ? null : { restarted: run.episode.restarted }, roleToken: run.roleToken,
    ...(spec.readiness === START_READINESS ? {} : { readiness: spec.readiness }),
    ...(run.ready ? { ready: true } : {}), ...(run.waiting ? { waiting: true } : {}),
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
