import type { StateMap } from "../../lib/store/format.js";
import type { At, CoreEvent } from "../core/events.js";
import type { ConditionValue, EntityValue, FiringValue, GroupValue } from "./records.js";
import { restoreState, type CheckedRecords } from "./restore.js";
import type { HamState } from "../core/state.js";
import { isSameProcessAlive, readStartTime, spawnedPid } from "../adapters/processes.js";
import { isCheckpointValue, isConditionValue, isEntityValue, isFiringValue, isGroupValue, isSectionValue } from "./state-schema.js";
import type { CheckpointValue, SectionValue } from "./checkpoint-records.js";
import { readMeta } from "./state-version.js";

// Reading back the shared state of a HAM that is gone: each record checked (its version,
// then its shape: state-schema.ts; one that fails is skipped and said), the core's state
// rebuilt (core/records.ts), and the facts about processes the takeover transition needs
// (core/takeover.ts) looked up in /proc: which are alive, which a spawn token names.

export interface ReadBack {
  readonly state: HamState;
  readonly event: Extract<CoreEvent, { kind: "takeover" }>;
  // The server's part of the HAM-wide record (pulse channels) and the replies kept.
  readonly channels: ReadonlyArray<readonly [number, number, string | null]>;
  readonly nextChid: number;
  readonly replies: ReadonlyArray<readonly [string, number, unknown]>;
  readonly skipped: readonly string[];
}

export function readBack(base: HamState, values: StateMap["values"], at: At, takeover: boolean, torn: string | null): ReadBack {
  const meta = readMeta(values.get("m"));
  const skipped: string[] = [];
  const entities: EntityValue[] = [];
  const conditions: Array<[string, ConditionValue]> = [];
  const firingValues: FiringValue[] = [];
  const groups: GroupValue[] = [];
  const replies: Array<[string, number, unknown]> = [];
  const checkpoints: CheckpointValue[] = [];
  const sections: Array<[string, string, SectionValue]> = [];
  for (const [key, value] of values) {
    if (key === "g" || key.startsWith("e/")) {
      if (isEntityValue(value)) entities.push(value);
      else skipped.push(key);
    } else if (key.startsWith("c/")) {
      if (isConditionValue(value)) conditions.push([key.slice(2, key.indexOf("/", 2)), value]);
      else skipped.push(key);
    } else if (key.startsWith("f/")) {
      if (isFiringValue(value)) firingValues.push(value);
      else skipped.push(key);
    } else if (key.startsWith("G/")) {
      if (isGroupValue(value)) groups.push(value);
      else skipped.push(key);
    } else if (key.startsWith("k/")) {
      if (isCheckpointValue(value)) checkpoints.push(value);
      else skipped.push(key);
    } else if (key.startsWith("s/")) {
      const slash = key.indexOf("/", 2);
      if (isSectionValue(value)) sections.push([key.slice(2, slash), key.slice(slash + 1), value]);
      else skipped.push(key);
    } else if (key.startsWith("r/")) {
      const [, token = "", id = ""] = key.split("/");
      replies.push([token, Number(id), value]);
    }
  }
  const records: CheckedRecords = { meta, entities, conditions, firings: firingValues, groups, checkpoints, sections };
  const { state, firings } = restoreState(base, records);
  const alive = new Map<string, boolean>();
  const found = new Map<string, { pid: number; startTime: number | null }>();
  for (const entity of state.entities.values()) {
    const { pid, startTime, spawnToken } = entity.run;
    if (pid === 0) {
      // Spawned by the old HAM just before it died, pid not yet noted.
      const spawned = spawnedPid(spawnToken);
      if (spawned !== null) {
        const start = readStartTime(spawned);
        found.set(entity.name, { pid: spawned, startTime: start });
        alive.set(entity.name, isSameProcessAlive(spawned, start));
      }
    } else alive.set(entity.name, isSameProcessAlive(pid, startTime));
  }
  return {
    state,
    event: { kind: "takeover", at, facts: { hamPid: base.meta.hamPid, takeover, torn, alive, found }, firings },
    channels: meta?.channels ?? [],
    nextChid: meta?.nextChid ?? 1,
    replies,
    skipped,
  };
}
