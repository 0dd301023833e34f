import type { RestartPolicy } from "../../lib/tree/types.js";
import { isDeathType } from "../../lib/tree/conditions.js";
import { LOG_LEVEL } from "./describe.js";
import type { Firing } from "./state.js";
import { restartTimer } from "./tx.js";
import type { Tx } from "./tx.js";
import { notifyOf } from "./readiness.js";

// Restart-storm policy (beyond QNX). A process that ran at least minUptime is restarted at
// once; one that died sooner waits a backoff that doubles from backoffInitialMs up to
// backoffMaxMs, and resets once a process stays up backoffResetMs. An optional budget of
// N restarts within W ms makes the restart action fail when exhausted.
export type RestartDecision =
  | { readonly kind: "now"; readonly backoffMs: number }
  | { readonly kind: "after"; readonly delayMs: number; readonly backoffMs: number }
  | { readonly kind: "give-up"; readonly reason: string };

export interface RestartHistory {
  readonly startedMs: number;
  readonly diedMs: number;
  readonly backoffMs: number;
  readonly restartTimes: readonly number[];
}

export function decideRestart(policy: RestartPolicy, history: RestartHistory, nowMs: number): RestartDecision {
  if (policy.budget !== null) {
    const since = nowMs - policy.budget.windowMs;
    const recent = history.restartTimes.filter((time) => time > since).length;
    if (recent >= policy.budget.restarts) {
      return {
        kind: "give-up",
        reason: `restart budget exhausted: ${recent} restarts within ${policy.budget.windowMs} ms`,
      };
    }
  }
  const uptime = history.diedMs - history.startedMs;
  if (uptime >= policy.backoffResetMs) return { kind: "now", backoffMs: 0 };
  if (uptime >= policy.minUptimeMs) return { kind: "now", backoffMs: history.backoffMs };
  const next = history.backoffMs === 0 ? policy.backoffInitialMs : Math.min(history.backoffMs * 2, policy.backoffMaxMs);
  return { kind: "after", delayMs: next, backoffMs: next };
}

// Keeps only the restart times a budget can still count.
export function trimRestartTimes(policy: RestartPolicy, times: readonly number[], nowMs: number): number[] {
  if (policy.budget === null) return [];
  const since = nowMs - policy.budget.windowMs;
  return times.filter((time) => time > since);
}

// A restart action: the entity's restart policy decides (give up, back off, or now); a
// backoff is a timer (its firing is `restartDue`); then the entity's process is spawned, its
// spawn token in the state first, so a HAM that takes over finds it instead of starting another.

export type Outcome = { readonly kind: "done"; readonly ok: boolean } | { readonly kind: "pending" };
export const DONE_OK: Outcome = { kind: "done", ok: true };
export const DONE_FAILED: Outcome = { kind: "done", ok: false };
export const PENDING: Outcome = { kind: "pending" };

// A restart action in a CONDPROBEFAIL condition (a live process that fails its probe): the
// process is stopped (SIGTERM, then SIGKILL after the grace) and its death condition's restart
// action restarts it, with its policy, as a fault policy's `restart` does (Kubernetes: the
// container is killed, its restart policy restarts it). Without such an action it fails: the
// process is left running and the action's fail-actions run.
export function stopForRestart(tx: Tx, firing: Firing): Outcome {
  const entity = tx.entity(firing.entity);
  if (entity === undefined || entity.run.pid <= 0) return DONE_FAILED;
  const fields = { event: "probe-restart", entity: entity.name, pid: entity.run.pid };
  const restarts = [...entity.conditions.values()].some((condition) =>
    isDeathType(condition.type) && condition.enabled && [...condition.actions.values()].some((action) => action.spec.kind === "restart"));
  if (!restarts) {
    tx.log(LOG_LEVEL.events, "warn", fields, `${entity.name}: no restart action in a death condition would start it again: left running`);
    return DONE_FAILED;
  }
  tx.log(LOG_LEVEL.events, "warn", fields, `${entity.name}: stopping pid ${entity.run.pid} (SIGTERM, then SIGKILL) for its death condition to restart it`);
  tx.emit({ kind: "terminate", pid: entity.run.pid, startTime: entity.run.startTime });
  return DONE_OK;
}

export function startRestart(tx: Tx, firing: Firing, line: string): Outcome {
  const entity = tx.entity(firing.entity);
  if (entity === undefined || entity.name === "") return DONE_FAILED;
  if (skipStopped(tx, entity.name, entity.spec.stop)) return DONE_OK;
  // Running already: the HAM that died restarted it, and a takeover adopted the process.
  if (entity.run.pid !== 0) {
    markRestarted(tx, entity.name);
    return DONE_OK;
  }
  const now = tx.at.wall;
  const { counters, run } = entity;
  const decision = decideRestart(entity.spec.policy, {
    startedMs: counters.startedMs, diedMs: counters.lastDeathMs ?? now, backoffMs: counters.backoffMs, restartTimes: counters.restartTimes,
  }, now);
  if (decision.kind === "give-up" && run.restartAt === null) {
    tx.counters(entity.name, { gaveUp: true });
    tx.log(LOG_LEVEL.events, "error", { event: "gave-up", entity: entity.name }, `${entity.name}: ${decision.reason}; not restarting`);
    return DONE_FAILED;
  }
  let restartAt = run.restartAt;
  if (restartAt === null && decision.kind !== "give-up") {
    tx.counters(entity.name, { backoffMs: decision.backoffMs });
    if (decision.kind === "after") {
      tx.log(LOG_LEVEL.events, "warn", { event: "backoff", entity: entity.name, delayMs: decision.delayMs },
        `${entity.name} died ${now - counters.startedMs} ms after starting; restart in ${decision.delayMs} ms`);
      restartAt = tx.at.mono + decision.delayMs;
      tx.run(entity.name, { restartAt });
    }
  }
  // A backoff under way (also one a HAM that died had started) is waited out to its end.
  if (restartAt !== null) {
    tx.emit({ kind: "arm", id: restartTimer(firing.id), at: restartAt });
    return PENDING;
  }
  return spawnRestart(tx, firing, line);
}

// The backoff of the restart that `firing` runs has ended.
export function restartDue(tx: Tx, firing: Firing, line: string): Outcome {
  const entity = tx.run(firing.entity, { restartAt: null });
  if (entity === undefined) return DONE_FAILED;
  if (entity.run.pid !== 0 || skipStopped(tx, entity.name, entity.spec.stop)) return DONE_OK;
  return spawnRestart(tx, firing, line);
}

// hamctl stop / delete while a restart was under way (a backoff): it is not made, and not a failure.
function skipStopped(tx: Tx, name: string, stop: string | undefined): boolean {
  if (stop === undefined) return false;
  tx.log(LOG_LEVEL.events, "info", { event: "restart-skipped", entity: name }, `${name} is ${stop === "stop" ? "stopped" : "deleted"}: not restarted`);
  return true;
}

function spawnRestart(tx: Tx, firing: Firing, line: string): Outcome {
  const token = tx.nextSpawnToken(firing.entity);
  tx.run(firing.entity, { spawnToken: token });
  tx.emit({ kind: "persist-now" });
  tx.emit({ kind: "spawn", entity: firing.entity, line, token, cause: { kind: "restart", firing: firing.id }, ...notifyOf(tx, firing.entity) });
  return PENDING;
}

// The restart's process runs: the entity's counters say so.
export function restarted(tx: Tx, name: string, pid: number, startTime: number | null): void {
  const entity = tx.entity(name);
  if (entity === undefined) return;
  const started = tx.at.wall;
  tx.put({
    ...entity,
    run: { ...entity.run, pid, startTime, ownChild: true },
    counters: {
      ...entity.counters, startedMs: started, restartedMs: started, restarts: entity.counters.restarts + 1, gaveUp: false,
      restartTimes: [...trimRestartTimes(entity.spec.policy, entity.counters.restartTimes, started), started],
    },
  });
  markRestarted(tx, name);
  tx.log(LOG_LEVEL.events, "info", { event: "restart", entity: name, pid }, `${name} restarted as pid ${pid}`);
}

function markRestarted(tx: Tx, name: string): void {
  const episode = tx.entity(name)?.run.episode;
  if (episode != null && !episode.restarted) tx.run(name, { episode: { ...episode, restarted: true } });
}
