import { freshBeat } from "../core/heartbeats.js";
import { emptyIndex, indexOf, ordered, START_READINESS } from "../core/state.js";
import type { Action, Condition, EntityState, Firing, HamState } from "../core/state.js";
import { queueOf } from "../core/firings.js";
import { restoreCheckpoints, type CheckpointValue, type SectionValue } from "./checkpoint-records.js";
import type { ConditionValue, EntityValue, FiringValue, GroupValue, MetaValue } from "./records.js";

// The shared state's records read back into the core's HamState (records.ts writes them):
// what a HAM that takes over, or starts on the state of one that stopped, carries on from.

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
      ...(value.stop === undefined ? {} : { stop: value.stop }),
      heartbeat: heartbeat === null ? null : { periodNs: heartbeat.periodNs, low: heartbeat.low, high: heartbeat.high },
      readiness: value.readiness ?? START_READINESS,
      probes: value.probes ?? [],
    },
    counters: {
      createdMs: value.createdMs, startedMs: value.startedMs, lastDeathMs: value.lastDeathMs, restartedMs: value.restartedMs,
      restarts: value.restarts, deaths: value.deaths, abnormalDeaths: value.abnormalDeaths, missedLow: value.missedLow,
      missedHigh: value.missedHigh, lastState: value.lastState, lastExit: value.lastExit, restartTimes: value.restartTimes,
      backoffMs: value.backoffMs, gaveUp: value.gaveUp, probeFailures: value.probeFailures ?? 0,
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
      ready: value.ready ?? false,
      waiting: value.waiting ?? false,
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
      ...(meta?.nodes === undefined ? {} : { nodes: new Map(meta.nodes.map(({ name, ...fact }) => [name, fact])) }),
      // Derived from the entities (core/tx.ts keeps it from here on).
      waiting: new Set([...entities.values()].filter((entity) => entity.run.waiting).map((entity) => entity.name)),
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
