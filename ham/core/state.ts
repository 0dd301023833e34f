import type * as Immutable from "immutable";
import { emptyIndex, emptyMap, ordered, type Index, type Ordered } from "./collections.js";
import { HamError } from "../../lib/errors.js";
import type { Checkpoint } from "./checkpoints/checkpoint-data.js";
import type { AvailabilityCounters } from "./availability.js";
import type { GroupEvent, GroupState } from "./groups/group-state.js";
import type { NodeFact } from "./nodes/node-fact.js";
export type { AvailabilityCounters } from "./availability.js";
export type { GroupCounters, GroupEvent, GroupModel, GroupState, HaState, Member } from "./groups/group-state.js";
export { GROUP_MODELS } from "./groups/group-state.js";
import type { ActionSpec, ConditionFilter, EntityKind, FailSpec, HeartbeatState, ProbeSpec, RestartPolicy } from "../../lib/tree/types.js";
import type { ProbeRun } from "./probes.js";

export { emptyIndex, indexOf, Ordered, ordered, type Index } from "./collections.js";

// The HAM's whole state as readonly data. Transitions (step.ts) never change a value: they
// build the next state, sharing what did not change. An entity keeps what the user said
// (spec), what happened to it (counters) and what the HAM is doing with it now (run) apart.

export interface FailAction {
  readonly name: string;
  readonly spec: FailSpec;
  readonly runs: number;
  readonly failures: number;
}

export interface Action {
  readonly name: string;
  // Unique in the HAM: a firing that captured an action knows it again after a change.
  readonly id: number;
  readonly spec: ActionSpec;
  readonly flags: number;
  readonly enabled: boolean;
  readonly runs: number;
  readonly failures: number;
  readonly fails: ReadonlyMap<string, FailAction> | null;
}

export interface Condition {
  readonly name: string;
  readonly type: number;
  readonly filter: ConditionFilter;
  readonly flags: number;
  readonly enabled: boolean;
  readonly fired: number;
  // Its place among its entity's conditions (the order they were made; kept in the state).
  readonly order: number;
  readonly actions: Ordered<Action>;
}

export interface HeartbeatSpec {
  readonly periodNs: number;
  readonly low: number;
  readonly high: number;
}

// When the entity counts as ready (readiness.ts): "start", once its process runs; "notify", once
// its process says so (a newline on its notification fd, ham_ready(), or a readiness probe). It
// is started only once every entity it `requires` is ready.
export interface Readiness {
  readonly mode: "start" | "notify";
  readonly notifyFd: number | null;
  readonly requires: readonly string[];
}

export const START_READINESS: Readiness = Object.freeze({ mode: "start", notifyFd: null, requires: Object.freeze([]) });

export interface EntitySpec {
  readonly kind: EntityKind;
  readonly command: string | null;
  readonly flags: number;
  readonly enabled: boolean;
  readonly policy: RestartPolicy;
  readonly heartbeat: HeartbeatSpec | null;
  readonly readiness: Readiness;
  // `hamctl stop` (stop) or `hamctl delete` (delete) asked for it (core/services.ts): the entity
  // is disabled, its process ended and not restarted; a deleted one goes once its process has.
  readonly stop?: ServiceStop;
  // Health probes (probes.ts), in the order they were set.
  readonly probes: readonly ProbeSpec[];
}

export type ServiceStop = "stop" | "delete";

export interface EntityCounters extends AvailabilityCounters {
  readonly createdMs: number;
  readonly startedMs: number;
  readonly lastDeathMs: number | null;
  readonly restartedMs: number | null;
  readonly restarts: number;
  readonly deaths: number;
  readonly abnormalDeaths: number;
  readonly missedLow: number;
  readonly missedHigh: number;
  readonly lastState: number;
  readonly lastExit: string | null;
  // Restart times a budget can still count (wall ms).
  readonly restartTimes: readonly number[];
  readonly backoffMs: number;
  readonly gaveUp: boolean;
  // CONDPROBEFAIL episodes (a liveness probe reached its failure threshold); absent before probes.
  readonly probeFailures?: number;
}

export interface HeartbeatRun {
  readonly state: HeartbeatState;
  readonly beatInPeriod: boolean;
  readonly consecutiveMisses: number;
  readonly lastBeatMs: number | null;
  // The end of the period being watched (monotonic ms), or null when no period is watched.
  readonly boundary: number | null;
}

// A death being handled: the firings it set off (and those of its restart) still running.
export interface Episode {
  readonly pending: number;
  readonly restarted: boolean;
  // Read back at a takeover: ended by the takeover once its firings are queued again.
  readonly resumed: boolean;
}

export interface EntityRun {
  readonly pid: number;
  // Start time of pid in clock ticks since boot (/proc/PID/stat field 22): its identity.
  readonly startTime: number | null;
  // Whether the HAM spawned pid (death seen by its exit) or polls it.
  readonly ownChild: boolean;
  // Set before the HAM spawns the entity's process (its env carries HAM_SPAWN=token).
  readonly spawnToken: string | null;
  // A restart waiting out its backoff: when it is due (monotonic ms).
  readonly restartAt: number | null;
  // Self-attached: the client session that attached it.
  readonly clientToken: string | null;
  readonly heartbeat: HeartbeatRun | null;
  readonly episode: Episode | null;
  // The client session (its token) of the process that registered a role callback
  // (ham_role_register), for this pid only: a death clears it.
  readonly roleToken: string | null;
  // Its process said it is ready (readiness "notify"): cleared by its death.
  readonly ready: boolean;
  // Its start is held until every entity it requires is ready (readiness.ts).
  readonly waiting: boolean;
  // What the probes' results have done since the process started, by probe name (not kept in
  // the shared state); null before the first result.
  readonly probes?: ReadonlyMap<string, ProbeRun> | null;
}

export interface EntityState {
  // "" names the global entity.
  readonly name: string;
  readonly spec: EntitySpec;
  readonly counters: EntityCounters;
  readonly run: EntityRun;
  readonly conditions: Ordered<Condition>;
}

// One condition that fired: the actions it had then, run FIFO in its queue.
export interface Firing {
  readonly id: number;
  // The entity the event happened to, and the one owning the condition ("": global).
  readonly entity: string;
  readonly owner: string;
  readonly condition: string;
  readonly actions: readonly Action[];
  readonly trigger: Trigger;
  // Part of a death's episode (pruning or removal waits for it).
  readonly episode: boolean;
  // Index of the first action not completed.
  readonly next: number;
  // A waitfor under way ends then (monotonic ms).
  readonly waitUntil: number | null;
  // An execute launched at this index, not yet marked completed (at most once across a takeover).
  readonly launched: number | null;
  // An action (or its fail-actions) runs: its result is awaited.
  readonly running: null | { readonly index: number; readonly fail: number | null; readonly ok: boolean };
  // HACTIONDONOW: runs at once, outside the queues and the shared state.
  readonly transient: boolean;
  // Which queue holds it (queues.ts), null when transient.
  readonly queue: string | null;
}

export interface ConfigRecord {
  // Source path → entity name → fingerprint.
  readonly applied: ReadonlyMap<string, ReadonlyMap<string, string>>;
  // Source path → names of the global conditions it made.
  readonly global: ReadonlyMap<string, readonly string[]>;
}

export interface Meta {
  readonly hamPid: number;
  readonly hamFailures: number;
  readonly guardianFailures: number;
  readonly verbosity: number;
  readonly nextFiringId: number;
  readonly nextActionId: number;
  readonly nextOrder: number;
  readonly spawnCount: number;
  readonly config: ConfigRecord;
  // In a cluster (not kept in the shared state: a HAM that takes over joins again): this node's
  // name, and whether its lease deadline has not passed (cluster-groups.ts).
  readonly node?: string;
  readonly leaseOk?: boolean;
  // This node's lease TTL (ms), told at its join: a cross-node switchover yields for 2 × TTL.
  readonly leaseTtlMs?: number;
  // The nodes this HAM knows up or down (core/nodes/node-facts.ts), kept in the shared state.
  readonly nodes?: ReadonlyMap<string, NodeFact>;
  // The entities whose start waits for their requirements (readiness.ts): an index of
  // run.waiting that tx.ts keeps up to date, never written (restore.ts builds it again).
  readonly waiting?: ReadonlySet<string>;
}


// Everything that can make a condition fire.
export type Trigger =
  // clean: it exited with status 0 (absent in a state written before it was told: a failure).
  | { readonly kind: "death"; readonly abnormal: boolean; readonly clean?: boolean }
  | { readonly kind: "detach" }
  | { readonly kind: "attach" }
  | { readonly kind: "restart" }
  | { readonly kind: "missed-low" }
  | { readonly kind: "missed-high" }
  | { readonly kind: "state"; readonly from: number; readonly to: number }
  | { readonly kind: "raise"; readonly type: number; readonly class: number; readonly severity: number }
  | { readonly kind: "group"; readonly event: GroupEvent; readonly group: string; readonly from: string | null; readonly to: string | null }
  | { readonly kind: "probe"; readonly probe: string };



export interface HamState {
  readonly meta: Meta;
  readonly groups: Index<GroupState>;
  readonly global: EntityState;
  readonly entities: Index<EntityState>;
  readonly firings: Immutable.Map<number, Firing>;
  // Queue name → firing ids, FIFO; the first one runs.
  readonly queues: Immutable.Map<string, readonly number[]>;
  // Checkpoints by name (checkpoint-data.ts).
  readonly checkpoints: Index<Checkpoint>;
}

// The restart policy an entity starts with (beyond QNX; restart-policy.ts).
export const DEFAULT_POLICY: RestartPolicy = Object.freeze({
  minUptimeMs: 1_000,
  backoffInitialMs: 100,
  backoffMaxMs: 30_000,
  backoffResetMs: 10_000,
  budget: null,
  output: null,
  faults: null,
});

export function newEntity(name: string, kind: EntityKind, nowMs: number): EntityState {
  return {
    name,
    spec: { kind, command: null, flags: 0, enabled: true, policy: DEFAULT_POLICY, heartbeat: null, readiness: START_READINESS, probes: [] },
    counters: {
      createdMs: nowMs, startedMs: nowMs, lastDeathMs: null, restartedMs: null, restarts: 0, deaths: 0, abnormalDeaths: 0,
      missedLow: 0, missedHigh: 0, lastState: 0, lastExit: null, restartTimes: [], backoffMs: 0, gaveUp: false,
      upMs: 0, downMs: 0, since: null, firstUpMs: null, repairs: 0, outages: [],
    },
    run: { pid: 0, startTime: null, ownChild: false, spawnToken: null, restartAt: null, clientToken: null, heartbeat: null, episode: null, roleToken: null, ready: false, waiting: false },
    conditions: ordered(),
  };
}

export function initialMeta(hamPid: number, verbosity: number): Meta {
  return {
    hamPid, hamFailures: 0, guardianFailures: 0, verbosity, nextFiringId: 1, nextActionId: 1, nextOrder: 1, spawnCount: 0,
    config: { applied: new Map(), global: new Map() },
  };
}

export function initialState(hamPid: number, verbosity: number, nowMs: number): HamState {
  return {
    meta: initialMeta(hamPid, verbosity),
    global: newEntity("", "global", nowMs),
    entities: emptyIndex(),
    groups: emptyIndex(),
    firings: emptyMap<number, Firing>(),
    queues: emptyMap<string, readonly number[]>(),
    checkpoints: emptyIndex(),
  };
}

// Finding items by name, for requests (an unknown name is ENOENT). null names the global entity.

export function entityOf(state: HamState, name: string | null): EntityState {
  if (name === null) return state.global;
  const entity = state.entities.get(name);
  if (entity === undefined) throw new HamError("ENOENT", `no entity ${name}`);
  return entity;
}

export function conditionOf(state: HamState, ename: string | null, cname: string): { entity: EntityState; condition: Condition } {
  const entity = entityOf(state, ename);
  const condition = entity.conditions.get(cname);
  if (condition === undefined) throw new HamError("ENOENT", `no condition ${cname} in ${ename ?? "the global entity"}`);
  return { entity, condition };
}

export function actionOf(state: HamState, ename: string | null, cname: string, aname: string): {
  entity: EntityState; condition: Condition; action: Action;
} {
  const { entity, condition } = conditionOf(state, ename, cname);
  const action = condition.actions.get(aname);
  if (action === undefined) throw new HamError("ENOENT", `no action ${aname} in ${cname}`);
  return { entity, condition, action };
}

export function counts(state: HamState): { entities: number; conditions: number; actions: number } {
  let conditions = 0;
  let actions = 0;
  for (const entity of [state.global, ...state.entities.values()]) {
    conditions += entity.conditions.size;
    for (const condition of entity.conditions.values()) actions += condition.actions.size;
  }
  return { entities: state.entities.size, conditions, actions };
}
