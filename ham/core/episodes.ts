import { HCONDKEEPONEMPTY, HREARMAFTERRESTART, HENTITYKEEPONDEATH } from "../../lib/constants.js";
import { isDeathType } from "../../lib/tree/conditions.js";
import { LOG_LEVEL } from "./describe.js";
import { ordered, type Action, type Condition, type Ordered } from "./state.js";
import { heartbeatTimer } from "./tx.js";
import type { Tx } from "./tx.js";

// QNX 7.1 default: actions re-arm unless they sit in a death condition; the flag forces it.
export function actionRearms(condition: Pick<Condition, "type">, action: Pick<Action, "flags">): boolean {
  return (action.flags & HREARMAFTERRESTART) !== 0 || !isDeathType(condition.type);
}

export interface Pruned {
  readonly conditions: Ordered<Condition>;
  readonly removedConditions: number;
  readonly removedActions: number;
}

// Reference §5.5, after a successful restart: a condition without HREARMAFTERRESTART goes
// with its actions; in a re-armed condition, actions that do not re-arm go. A condition
// emptied by pruning goes too unless HCONDKEEPONEMPTY.
export function pruneAfterRestart(conditions: Iterable<readonly [string, Condition]>): Pruned {
  const kept: Array<[string, Condition]> = [];
  let removedConditions = 0;
  let removedActions = 0;
  for (const [name, condition] of conditions) {
    if ((condition.flags & HREARMAFTERRESTART) === 0) {
      removedConditions += 1;
      removedActions += condition.actions.size;
      continue;
    }
    const actions = condition.actions.filter((action) => actionRearms(condition, action));
    const removedHere = condition.actions.size - actions.size;
    removedActions += removedHere;
    if (removedHere > 0 && actions.size === 0 && (condition.flags & HCONDKEEPONEMPTY) === 0) {
      removedConditions += 1;
      continue;
    }
    kept.push([name, removedHere === 0 ? condition : { ...condition, actions }]);
  }
  return { conditions: ordered(kept), removedConditions, removedActions };
}

// A death's episode: it counts the firings the death set off (and those of its restart);
// when the last one ends, the entity is pruned (restarted) or removed (not restarted).

export function episodeAdd(tx: Tx, name: string): void {
  const episode = tx.entity(name)?.run.episode;
  if (episode != null) tx.run(name, { episode: { ...episode, pending: episode.pending + 1 } });
}

export function episodeDone(tx: Tx, name: string): void {
  const episode = tx.entity(name)?.run.episode;
  if (episode == null) return;
  if (episode.pending > 1) {
    tx.run(name, { episode: { ...episode, pending: episode.pending - 1 } });
    return;
  }
  tx.run(name, { episode: null });
  finishDeath(tx, name, episode.restarted);
}

function finishDeath(tx: Tx, name: string, restarted: boolean): void {
  const entity = tx.entity(name);
  if (entity === undefined) return;
  if (restarted) {
    const pruned = pruneAfterRestart(entity.conditions);
    if (pruned.removedConditions + pruned.removedActions === 0) return;
    tx.setConditions(name, pruned.conditions);
    tx.log(LOG_LEVEL.detail, "info", { event: "prune", entity: name, conditions: pruned.removedConditions, actions: pruned.removedActions },
      "pruned items not re-armed after restart");
    return;
  }
  // hamctl stop / delete (services.ts): the process they ended is gone.
  if (entity.run.pid === 0 && entity.spec.stop !== undefined) {
    if (entity.spec.stop === "delete") dropEntity(tx, name);
    tx.log(LOG_LEVEL.events, "info", { event: entity.spec.stop === "delete" ? "deleted" : "stopped", entity: name }, `${name} ${entity.spec.stop === "delete" ? "deleted" : "stopped"}`);
    return;
  }
  if (entity.run.pid !== 0 || !entity.spec.enabled || entity.counters.gaveUp || (entity.spec.flags & HENTITYKEEPONDEATH) !== 0) return;
  dropEntity(tx, name);
  tx.log(LOG_LEVEL.events, "info", { event: "removed", entity: name }, `${name} removed: died and was not restarted`);
}

// Stops watching an entity's process and heartbeats (it died, or leaves the HAM).
export function unwatch(tx: Tx, name: string): void {
  const entity = tx.entity(name);
  if (entity === undefined) return;
  if (!entity.run.ownChild && entity.run.pid > 0) tx.emit({ kind: "unwatch-pid", pid: entity.run.pid });
  if (entity.run.heartbeat?.boundary != null) {
    tx.emit({ kind: "cancel", id: heartbeatTimer(name) });
    tx.run(name, { heartbeat: { ...entity.run.heartbeat, boundary: null } });
  }
}

// Removes an entity from the HAM (its process, if any, keeps running).
export function dropEntity(tx: Tx, name: string): void {
  unwatch(tx, name);
  tx.remove(name);
  tx.emit({ kind: "unbind-self", entity: name });
}
