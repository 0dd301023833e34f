import type { StateMap } from "../lib/store/format.js";
import type { Action, Entity } from "../lib/tree/types.js";
import { LOG_LEVEL } from "./activity-log.js";
import type { Firing } from "./firing.js";
import type { RecoveryContext } from "./context.js";
import { conditionFromValue, type ConditionValue, type EntityValue, type FiringValue } from "./persist.js";
import { isSameProcessAlive, readStartTime, spawnedPid } from "./processes.js";
import { isConditionValue, isEntityValue, isFiringValue } from "./state-schema.js";
import { readMeta } from "./state-version.js";

export interface RecoverySummary {
  readonly entities: number;
  readonly adopted: number;
  readonly died: number;
  readonly resumed: number;
}

// Rebuilds a HAM from the shared state of one that is gone: the tree, the HAM-wide facts,
// the deaths and firings under way; then every entity process still alive is adopted (by
// pid and start time, or by its spawn token if the old HAM died before noting its pid),
// and every one that died meanwhile gets its death conditions run.
export function recoverState(ham: RecoveryContext, state: StateMap, takeover: boolean): RecoverySummary {
  const meta = readMeta(state.values.get("m"));
  if (meta !== null) {
    ham.meta = {
      hamFailures: meta.hamFailures + (takeover ? 1 : 0), guardianFailures: meta.guardianFailures,
      nextFiringId: meta.nextFiringId, spawnCount: meta.spawnCount,
    };
    ham.log.verbosity = meta.verbosity;
    ham.channels.restore(meta.channels, meta.nextChid);
    ham.config.restore(meta.config);
  } else if (takeover) {
    ham.meta.hamFailures = 1;
  }

  // Rebuilding is not a change: the values are in the state already.
  const onChange = ham.tree.onChange;
  ham.tree.onChange = () => undefined;
  const episodes: Array<[Entity, boolean]> = [];
  const conditions: Array<[string, ConditionValue]> = [];
  // A record that fails its check (state-schema.ts) is skipped, and said.
  const skip = (key: string) => ham.log.write(LOG_LEVEL.events, "error", { event: "state-record-skipped", key },
    `the shared state's record ${key} does not have the shape this HAM reads: skipped`);
  try {
    for (const [key, value] of state.values) {
      if (key === "g" || key.startsWith("e/")) {
        if (!isEntityValue(value)) {
          skip(key);
          continue;
        }
        const entity = ham.restoreEntity(value);
        if (value.episode !== null && entity.kind !== "global") episodes.push([entity, value.episode.restarted]);
      } else if (key.startsWith("c/")) {
        if (isConditionValue(value)) conditions.push([key.split("/")[1] ?? "", value]);
        else skip(key);
      } else if (key.startsWith("r/")) {
        const [, token = "", id = ""] = key.split("/");
        ham.journal.reply(token, Number(id), value, true);
      }
    }
    // Each entity's conditions in the order they were made.
    conditions.sort((a, b) => a[1].order - b[1].order);
    for (const [ename, value] of conditions) {
      const owner = ename === "" ? ham.tree.global : ham.tree.entities.get(ename);
      if (owner === undefined) continue;
      const condition = conditionFromValue(value);
      owner.conditions.set(condition.name, condition);
      ham.journal.restored(owner, condition, value.order);
    }
  } finally {
    ham.tree.onChange = onChange;
  }
  for (const [entity, restarted] of episodes) ham.monitor.resumeEpisode(entity, restarted);

  const firings: FiringValue[] = [];
  for (const [key, value] of state.values) {
    if (!key.startsWith("f/")) continue;
    if (isFiringValue(value)) firings.push(value);
    else skip(key);
  }
  firings.sort((a, b) => a.id - b.id);
  ham.meta.nextFiringId = Math.max(ham.meta.nextFiringId, ...firings.map((value) => value.id + 1));
  let resumed = 0;
  for (const value of firings) {
    const firing = firingFrom(ham, value);
    if (firing === null) continue;
    ham.monitor.resumeFiring(firing);
    resumed += 1;
  }

  let adopted = 0;
  let died = 0;
  for (const entity of [...ham.tree.entities.values()]) {
    if (entity.pid === 0) {
      // Spawned by the old HAM just before it died, pid not yet noted.
      const pid = spawnedPid(entity.spawnToken);
      if (pid !== null) {
        entity.startTime = readStartTime(pid);
        ham.tree.setPid(entity, pid);
        ham.log.write(LOG_LEVEL.events, "info", { event: "adopt", entity: entity.name, pid }, `${entity.name}: found pid ${pid} by its spawn token`);
      }
    }
    if (entity.pid <= 0) continue;
    if (isSameProcessAlive(entity.pid, entity.startTime)) {
      ham.monitor.adopt(entity);
      adopted += 1;
    } else {
      died += 1;
      ham.monitor.onDeath(entity, entity.pid, null, "died while no HAM was watching; exit status unknown");
    }
  }
  ham.monitor.endResumedEpisodes();
  return { entities: ham.tree.entities.size, adopted, died, resumed };
}

function firingFrom(ham: RecoveryContext, value: FiringValue): Firing | null {
  const entity = value.entity === "" ? ham.tree.global : ham.tree.entities.get(value.entity);
  const owner = value.owner === null ? ham.tree.global : ham.tree.entities.get(value.owner);
  const condition = owner?.conditions.get(value.condition);
  if (entity === undefined || owner === undefined || condition === undefined) return null;
  // Actions pruned or removed since the condition fired are skipped, as they would have been.
  const actions = value.actions.map((name) => condition.actions.get(name))
    .filter((action): action is Action => action !== undefined);
  // An execute the dead HAM launched counts as run: it may have run already (at most once).
  const completed = value.launched === value.next ? value.next + 1 : value.next;
  const next = Math.min(actions.length, value.actions.slice(0, completed).filter((name) => condition.actions.has(name)).length);
  return { id: value.id, entity, owner, condition, actions, event: value.event, episode: value.episode, next, waitUntil: value.waitUntil, launched: null };
}
