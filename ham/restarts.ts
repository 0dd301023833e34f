import type { Entity } from "../lib/tree/types.js";
import { LOG_LEVEL, type ActivityLog } from "./activity-log.js";
import { monoMs } from "./clock.js";
import type { Episode, StateHooks } from "./episodes.js";
import type { HamEvent } from "./events.js";
import { failPoint } from "./fail-point.js";
import { readStartTime, spawnedPid } from "./processes.js";
import { decideRestart, trimRestartTimes } from "./restart-policy.js";
import type { HamTree } from "./tree.js";

// A restart action: the entity's restart policy (give up, back off, or now), then its process:
// the one the HAM that died spawned already (found by its spawn token), or a new one.

// What a restart needs from the monitor.
export interface RestartHost {
  readonly tree: HamTree;
  readonly log: ActivityLog;
  readonly state: StateHooks;
  spawn(entity: Entity, line: string): void;
  watchPid(entity: Entity, pid: number, startTime: number | null): void;
  fire(entity: Entity, event: HamEvent, episode: Episode | null): number;
}

export async function restartEntity(host: RestartHost, entity: Entity, line: string, episode: Episode | null): Promise<boolean> {
  if (entity.kind === "global" || !host.tree.contains(entity)) return false;
  // Running already: the HAM that died restarted it, and a takeover adopted the process.
  if (entity.pid !== 0) {
    if (episode !== null) episode.restarted = true;
    return true;
  }
  const now = Date.now();
  const decision = decideRestart(entity.policy, {
    startedMs: entity.startedMs, diedMs: entity.lastDeathMs ?? now, backoffMs: entity.backoffMs, restartTimes: entity.restartTimes,
  }, now);
  host.state.changed(entity);
  if (decision.kind === "give-up" && entity.restartAt === null) {
    entity.gaveUp = true;
    host.log.write(LOG_LEVEL.events, "error", { event: "gave-up", entity: entity.name }, `${entity.name}: ${decision.reason}; not restarting`);
    return false;
  }
  if (entity.restartAt === null && decision.kind !== "give-up") {
    entity.backoffMs = decision.backoffMs;
    if (decision.kind === "after") {
      host.log.write(LOG_LEVEL.events, "warn", { event: "backoff", entity: entity.name, delayMs: decision.delayMs },
        `${entity.name} died ${now - entity.startedMs} ms after starting; restart in ${decision.delayMs} ms`);
      entity.restartAt = monoMs() + decision.delayMs;
    }
  }
  // A backoff under way (also one a HAM that died had started) is waited out to its end.
  if (entity.restartAt !== null) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (entity.restartAt ?? 0) - monoMs())));
    entity.restartAt = null;
    if (!host.tree.contains(entity)) return false;
    if (entity.pid !== 0) return true;
  }
  // The HAM that died may have spawned this restart already, and died before noting its pid:
  // that process, found by its spawn token, is the restart (starting another is a duplicate).
  const spawned = findUnnoted(host, entity);
  if (spawned) {
    host.log.write(LOG_LEVEL.events, "info", { event: "adopt", entity: entity.name, pid: entity.pid },
      `${entity.name}: pid ${entity.pid}, spawned by the HAM that died, found by its spawn token`);
  } else {
    try {
      host.spawn(entity, line);
      failPoint("after-restart-spawn", entity.name);
    } catch (error) {
      host.log.write(LOG_LEVEL.events, "error", { event: "restart-failed", entity: entity.name }, `restart of ${entity.name} failed: ${String(error)}`);
      return false;
    }
  }
  // A restarted self-attached process is watched for heartbeats again once it re-attaches.
  entity.restartedMs = entity.startedMs;
  entity.restarts += 1;
  entity.gaveUp = false;
  entity.restartTimes = [...trimRestartTimes(entity.policy, entity.restartTimes, entity.startedMs), entity.startedMs];
  if (episode !== null) episode.restarted = true;
  host.state.changed(entity);
  host.log.write(LOG_LEVEL.events, "info", { event: "restart", entity: entity.name, pid: entity.pid }, `${entity.name} restarted as pid ${entity.pid}`);
  host.fire(entity, { kind: "restart" }, episode);
  return true;
}

// A process spawned for `entity` whose pid was never noted (its spawn token is set, its pid
// is 0): watched from now on; false when there is none.
function findUnnoted(host: RestartHost, entity: Entity): boolean {
  const pid = spawnedPid(entity.spawnToken);
  if (pid === null) return false;
  entity.startedMs = Date.now();
  host.watchPid(entity, pid, readStartTime(pid));
  host.state.changed(entity);
  return true;
}
