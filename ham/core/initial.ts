import { Map as IMap } from "immutable";
import type { EntityKind, RestartPolicy } from "../../lib/tree/types.js";
import type { EntityState, HamState, Index, Meta } from "./state.js";

// The restart policy an entity starts with (beyond QNX; restart-policy.ts).
export const DEFAULT_POLICY: RestartPolicy = Object.freeze({
  minUptimeMs: 1_000,
  backoffInitialMs: 100,
  backoffMaxMs: 30_000,
  backoffResetMs: 10_000,
  budget: null,
});

export function newEntity(name: string, kind: EntityKind, nowMs: number): EntityState {
  return {
    name,
    spec: { kind, command: null, flags: 0, enabled: true, policy: DEFAULT_POLICY, heartbeat: null },
    counters: {
      createdMs: nowMs, startedMs: nowMs, lastDeathMs: null, restartedMs: null, restarts: 0, deaths: 0, abnormalDeaths: 0,
      missedLow: 0, missedHigh: 0, lastState: 0, lastExit: null, restartTimes: [], backoffMs: 0, gaveUp: false,
    },
    run: { pid: 0, startTime: null, ownChild: false, spawnToken: null, restartAt: null, clientToken: null, heartbeat: null, episode: null },
    conditions: new Map(),
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
    firings: new Map(),
    queues: new Map(),
  };
}

export function emptyIndex<V>(): Index<V> {
  return IMap<string, V>() as Index<V>;
}

export function indexOf<V>(entries: Iterable<readonly [string, V]>): Index<V> {
  return IMap<string, V>(entries) as Index<V>;
}
