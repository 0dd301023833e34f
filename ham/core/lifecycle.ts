import { armHeartbeat, beat as beatArrived, graceHeartbeat, periodEnded } from "./heartbeats.js";
import type { SpawnCause } from "./effects.js";
import { episodeDone, unwatch, episodeAdd } from "./episodes.js";
import type { TakeoverFacts } from "./events.js";
import { actionDone, fire, enqueue } from "./firings.js";
import { LOG_LEVEL } from "./describe.js";
import { restartDue, restarted } from "./restart.js";
import type { Firing } from "./state.js";
import { selfCloseTimer, timerFor } from "./tx.js";
import type { Tx } from "./tx.js";
import { ackDue, memberDied, memberFailed, resumeGroups } from "./groups/roles.js";
import { yieldDue } from "./groups/cross-switchover.js";
import { notifyOf, startWaiting } from "./readiness.js";
import { startProbes } from "./probes.js";

// What happens to entity processes: deaths, spawns coming back, timers, beats.

// A self-attached child whose connection closed but whose exit was not seen by then is declared dead.
export const SELF_CLOSE_GRACE_MS = 1_000;

// `clean`: it exited with status 0 (an unknown status is not clean).
export function died(tx: Tx, name: string, pid: number, abnormal: boolean, reason: string, clean = false): void {
  const entity = tx.entity(name);
  if (entity === undefined || name === "" || pid === 0 || entity.run.pid !== pid) return;
  unwatch(tx, name);
  const after = tx.entity(name) ?? entity;
  const { counters, run } = after;
  // A death while an earlier one is still handled joins its episode; the latest death decides.
  const episode = run.episode === null
    ? { pending: 1, restarted: false, resumed: false }
    : { ...run.episode, pending: run.episode.pending + 1, restarted: false };
  tx.put({
    ...after,
    run: { ...run, pid: 0, spawnToken: null, episode, roleToken: null, ready: false },
    counters: {
      ...counters, lastDeathMs: tx.at.wall, deaths: counters.deaths + 1, abnormalDeaths: counters.abnormalDeaths + (abnormal ? 1 : 0),
      lastExit: reason,
    },
  });
  tx.log(LOG_LEVEL.events, "warn", { event: "death", entity: name, pid, abnormal }, `${name} (pid ${pid}) died: ${reason}`);
  fire(tx, name, { kind: "death", abnormal, clean }, true);
  // Its group's roles move on (a standby becomes active) while its restart runs.
  memberDied(tx, name);
  // The death itself is counted done: the episode ends with the last firing it set off.
  episodeDone(tx, name);
}

// A self-attached entity's connection closed without ham_detach_self. For the HAM's own
// child the exit carries the real status: it is awaited a little first.
export function connectionLost(tx: Tx, name: string, pid: number): void {
  const entity = tx.entity(name);
  if (entity === undefined || entity.run.pid !== pid || pid === 0) return;
  if (!entity.run.ownChild) {
    died(tx, name, pid, false, "connection closed without ham_detach_self");
    return;
  }
  tx.emit({ kind: "arm", id: selfCloseTimer(name, pid), at: tx.at.mono + SELF_CLOSE_GRACE_MS });
}

export function timer(tx: Tx, id: string): void {
  const what = timerFor(id);
  switch (what.kind) {
    case "restart": {
      const firing = tx.firings.get(what.firing);
      const action = firing?.running === null || firing === undefined ? undefined : firing.actions[firing.running.index];
      if (firing === undefined || action?.spec.kind !== "restart") return;
      const outcome = restartDue(tx, firing, action.spec.line);
      if (outcome.kind === "done") actionDone(tx, firing.id, outcome.ok);
      return;
    }
    case "wait":
      actionDone(tx, what.firing, true);
      return;
    case "heartbeat":
      for (const trigger of periodEnded(tx, what.entity)) {
        fire(tx, what.entity, trigger);
        if (trigger.kind === "missed-high") memberFailed(tx, what.entity, "missed heartbeats past its high threshold");
      }
      return;
    case "role":
      ackDue(tx, what.group, what.entity, what.seq);
      return;
    case "self-close":
      died(tx, what.entity, what.pid, false, "connection closed, process still running");
      return;
    case "yield":
      yieldDue(tx, what.group);
      return;
    case "unknown":
      return;
  }
}

export function spawned(tx: Tx, name: string, pid: number, startTime: number | null, cause: SpawnCause): void {
  switch (cause.kind) {
    case "restart":
      restarted(tx, name, pid, startTime);
      fire(tx, name, { kind: "restart" }, tx.entity(name)?.run.episode != null);
      actionDone(tx, cause.firing, true);
      startWaiting(tx, name);
      return;
    case "attach":
    case "config": {
      const entity = tx.entity(name);
      if (entity === undefined) return;
      tx.put({ ...entity, run: { ...entity.run, pid, startTime, ownChild: true }, counters: { ...entity.counters, startedMs: tx.at.wall } });
      tx.log(LOG_LEVEL.events, "info", { event: "attach", entity: name, pid }, `${name} attached (pid ${pid})`);
      if (cause.kind === "attach") {
        if (cause.previous) fire(tx, name, { kind: "attach" });
        tx.emit({ kind: "reply", ref: cause.ref, to: cause.to, result: { ename: name } });
      }
      startWaiting(tx, name);
      return;
    }
  }
}

export function spawnFailed(tx: Tx, name: string, code: string, error: string, cause: SpawnCause): void {
  switch (cause.kind) {
    case "restart":
      tx.run(name, { spawnToken: null });
      tx.log(LOG_LEVEL.events, "error", { event: "restart-failed", entity: name }, `restart of ${name} failed: ${error}`);
      actionDone(tx, cause.firing, false);
      return;
    case "attach":
      // A name that was a placeholder stays one; a new entity goes.
      if (cause.previous) tx.spec(name, { kind: "placeholder", command: null });
      else tx.remove(name);
      tx.run(name, { spawnToken: null });
      tx.emit({ kind: "reply-error", ref: cause.ref, to: cause.to, code, message: error });
      return;
    case "config":
      tx.remove(name);
      tx.log(LOG_LEVEL.events, "error", { event: "config-spawn-failed", entity: name, source: cause.source },
        `${name} from ${cause.source} could not start and was removed: ${error}`);
      return;
  }
}

export { actionDone, armHeartbeat, beatArrived, unwatch };

// An attach's (or a config file's) spawn that the HAM which died had written but not made: made
// now, so the attach it may have answered, or will answer when the client sends it again, holds.
// (A restart's spawn is resumed by its firing.)
function resumeSpawns(tx: Tx, facts: TakeoverFacts): void {
  for (const entity of [...tx.entities.values()]) {
    const { pid, spawnToken, episode } = entity.run;
    const line = entity.spec.command;
    if (pid !== 0 || spawnToken === null || episode !== null || line === null || facts.found.has(entity.name)) continue;
    const token = tx.nextSpawnToken(entity.name);
    tx.run(entity.name, { spawnToken: token });
    tx.log(LOG_LEVEL.events, "info", { event: "resume-spawn", entity: entity.name }, `${entity.name}: the HAM that died had not started its process yet; starting it`);
    tx.emit({ kind: "persist-now" });
    tx.emit({ kind: "spawn", entity: entity.name, line, token, cause: { kind: "config", source: "the takeover" }, ...notifyOf(tx, entity.name) });
  }
}

// A HAM carries on from the state of one that is gone (records.ts read it back): processes its
// predecessor spawned but did not note are found by their spawn token, the firings under way
// continue in the order they fired, every live process is adopted (polled: it is no longer
// this HAM's child) and every one that died meanwhile gets its death conditions.
export function takeOver(tx: Tx, facts: TakeoverFacts, firings: readonly Firing[]): void {
  tx.setMeta({ hamPid: facts.hamPid, hamFailures: tx.meta.hamFailures + (facts.takeover ? 1 : 0) });
  // First, before any death below moves a group's roles on: failed members still alive are
  // killed again, and roles not yet acknowledged get their deadline again (sent again at each hello).
  resumeGroups(tx);
  for (const [name, found] of facts.found) {
    const entity = tx.entity(name);
    if (entity === undefined || entity.run.pid !== 0) continue;
    tx.log(LOG_LEVEL.events, "info", { event: "adopt", entity: name, pid: found.pid },
      `${name}: pid ${found.pid}, spawned by the HAM that died, found by its spawn token`);
    if (entity.run.episode === null) {
      // An attach's spawn.
      tx.run(name, { pid: found.pid, startTime: found.startTime });
      continue;
    }
    // A restart's spawn: that process is the restart (starting another is a duplicate).
    restarted(tx, name, found.pid, found.startTime);
    fire(tx, name, { kind: "restart" }, true);
  }
  resumeSpawns(tx, facts);
  for (const firing of firings) {
    if (firing.episode) episodeAdd(tx, firing.entity);
    enqueue(tx, firing);
  }
  let adopted = 0;
  let deaths = 0;
  for (const entity of [...tx.entities.values()]) {
    const { pid, startTime } = entity.run;
    if (pid <= 0) continue;
    if (facts.alive.get(entity.name) === true) {
      adopted += 1;
      tx.run(entity.name, { ownChild: false });
      tx.emit({ kind: "watch-pid", entity: entity.name, pid, startTime, adopted: true });
      graceHeartbeat(tx, entity.name);
      // hamctl stop / delete answered by the HAM that died, its process maybe not yet ended.
      if (entity.spec.stop !== undefined) tx.emit({ kind: "terminate", pid, startTime });
      // Its probes count again from zero, after their start grace.
      startProbes(tx, entity.name);
    } else {
      deaths += 1;
      died(tx, entity.name, pid, false, "died while no HAM was watching; exit status unknown");
    }
  }
  // The episodes read back end once their firings do. Only those: a death found just now has
  // an episode of its own, already counted down.
  for (const entity of [...tx.entities.values()]) {
    const episode = entity.run.episode;
    if (episode === null || !episode.resumed) continue;
    tx.run(entity.name, { episode: { ...episode, resumed: false } });
    episodeDone(tx, entity.name);
  }
  // Entities still waiting whose requirements are ready (the HAM that died did not start them):
  // started now; one whose requirement is not ready keeps waiting.
  startWaiting(tx, null);
  const summary = { entities: tx.entities.size, adopted, died: deaths, resumed: firings.length, torn: facts.torn };
  tx.log(LOG_LEVEL.events, "info", { event: facts.takeover ? "takeover" : "recovered", ...summary }, facts.takeover
    ? `took over from the dead HAM: ${summary.entities} entities, ${adopted} processes adopted, ${deaths} died meanwhile`
    : `recovered the state of a HAM that is gone: ${summary.entities} entities, ${adopted} processes adopted, ${deaths} died meanwhile`);
}
