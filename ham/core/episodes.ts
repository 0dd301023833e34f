import { HENTITYKEEPONDEATH } from "../../lib/constants.js";
import { LOG_LEVEL } from "./log-levels.js";
import { pruneAfterRestart } from "./pruning.js";
import { heartbeatTimer } from "./timers.js";
import type { Tx } from "./tx.js";

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
