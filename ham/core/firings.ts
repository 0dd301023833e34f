import { HACTIONBREAKONFAIL, HACTIONKEEPONFAIL, HCONDKEEPONEMPTY } from "../../lib/constants.js";
import { conditionQueueName } from "../../lib/tree/conditions.js";
import type { ActionSpec, FailSpec } from "../../lib/tree/types.js";
import { armHeartbeat, healthy } from "./heartbeats.js";
import { describeSpec, LOG_LEVEL, pathOf } from "./describe.js";
import { describeTrigger, conditionMatches, type Trigger } from "./triggers.js";
import { episodeAdd, episodeDone } from "./episodes.js";
import { DONE_OK, PENDING, startRestart, stopForRestart, type Outcome } from "./restart.js";
import type { Condition, Action, FailAction, Firing } from "./state.js";
import { waitTimer } from "./tx.js";
import type { Tx } from "./tx.js";

// Execution model (reference §5.4), with one deliberate difference: QNX runs all NOWAIT
// conditions in one shared FIFO and all OTHER conditions in another, so one entity's waitfor
// or restart backoff delays every other entity's recovery. Here those two FIFOs are kept per
// entity (the one the event happened to): within an entity the order is QNX's, and no entity
// ever waits for another. Each INDEPENDENT condition has its own FIFO (a global one, one per
// entity it fires for). A queue is a list of firing ids in the state; its first one runs.
export function queueOf(entity: string, owner: string, condition: Pick<Condition, "name" | "flags">): string {
  const kind = conditionQueueName(condition.flags);
  return kind === "INDEPENDENT" ? `${kind}/${entity}/${owner}/${condition.name}` : `${kind}/${entity}`;
}

// Conditions firing, and their actions run one at a time in their queue. An action that
// needs the world (a spawn, a signal, a waitfor) leaves the firing `running` until its result
// comes back as an event (`actionDone`); nothing ever waits inside a queue.

// Fires every enabled condition of `entity` (and of the global entity) that matches
// `trigger`. All matching conditions fire first, then their actions start.
// `withGlobal` false: the entity's own conditions only (a group event fires the global ones once).
export function fire(tx: Tx, entity: string, trigger: Trigger, episode = false, withGlobal = true): number {
  const target = tx.entity(entity);
  if (target === undefined || !target.spec.enabled) return 0;
  const fired: Firing[] = [];
  for (const ownerName of entity === "" ? [""] : withGlobal ? [entity, ""] : [entity]) {
    const owner = tx.entity(ownerName);
    if (owner === undefined || !owner.spec.enabled) continue;
    for (const condition of owner.conditions.values()) {
      if (!condition.enabled || !conditionMatches(condition, trigger)) continue;
      tx.setCondition(ownerName, { ...condition, fired: condition.fired + 1 });
      fired.push({
        id: tx.nextFiringId(), entity, owner: ownerName, condition: condition.name, actions: [...condition.actions.values()],
        trigger, episode, next: 0, waitUntil: null, launched: null, running: null, transient: false,
        queue: queueOf(entity, ownerName, condition),
      });
      if (episode) episodeAdd(tx, entity);
      tx.log(LOG_LEVEL.detail, "info", { event: "condition", entity: pathOf(entity), condition: `${pathOf(ownerName)}/${condition.name}` },
        `condition fired on ${describeTrigger(trigger)}`);
    }
  }
  for (const firing of fired) enqueue(tx, firing);
  return fired.length;
}

// Queues a firing (a new one, or one a takeover read back); the first of a queue starts now.
export function enqueue(tx: Tx, firing: Firing): void {
  tx.setFiring(firing);
  if (firing.queue === null) {
    advance(tx, firing.id);
    return;
  }
  const waiting = tx.queues.get(firing.queue) ?? [];
  tx.setQueue(firing.queue, [...waiting, firing.id]);
  if (waiting.length === 0) advance(tx, firing.id);
}

// HACTIONDONOW: the action runs once, now, outside the queues.
export function runNow(tx: Tx, entity: string, condition: Condition, action: Action): void {
  enqueue(tx, {
    id: tx.nextFiringId(), entity, owner: entity, condition: condition.name, actions: [action], trigger: { kind: "attach" },
    episode: false, next: 0, waitUntil: null, launched: null, running: null, transient: true, queue: null,
  });
}

// Runs the firing's actions from the first one not completed, until one must wait.
function advance(tx: Tx, id: number): void {
  const firing = tx.firings.get(id);
  if (firing === undefined || firing.running !== null) return;
  if (firing.next >= firing.actions.length) {
    finish(tx, firing);
    return;
  }
  const index = firing.next;
  const action = current(tx, firing, index);
  if (!action.enabled) {
    tx.setFiring({ ...firing, next: index + 1 });
    advance(tx, id);
    return;
  }
  const launched = action.spec.kind === "execute" && !firing.transient ? index : null;
  const started: Firing = { ...firing, running: { index, fail: null, ok: true }, launched };
  tx.setFiring(started);
  updateAction(tx, firing, index, (item) => ({ ...item, runs: item.runs + 1 }));
  tx.log(LOG_LEVEL.detail, "info", { ...fields(firing, action), event: "action" }, `run ${describeSpec(action.spec)}`);
  // The execute is in the state as launched before it runs: a HAM that takes over does not run it again.
  if (launched !== null) tx.emit({ kind: "persist-now" });
  settle(tx, id, perform(tx, started, action.name, action.spec));
}

function settle(tx: Tx, id: number, outcome: Outcome): void {
  if (outcome.kind === "done") actionDone(tx, id, outcome.ok);
}

// The result of the running action (or of its running fail-action).
export function actionDone(tx: Tx, id: number, ok: boolean): void {
  const firing = tx.firings.get(id);
  if (firing === undefined || firing.running === null) return;
  const { index, fail } = firing.running;
  const action = current(tx, firing, index);
  if (fail === null) {
    if (ok) {
      completed(tx, firing, index, true);
      return;
    }
    updateAction(tx, firing, index, (item) => ({ ...item, failures: item.failures + 1 }));
    tx.log(LOG_LEVEL.events, "warn", { ...fields(firing, action), event: "action-failed" }, `action failed: ${describeSpec(action.spec)}`);
    runFailAction(tx, { ...firing, running: { index, fail: 0, ok: false } });
    return;
  }
  const failAction = [...(action.fails?.values() ?? [])][fail];
  if (!ok && failAction !== undefined) {
    updateFail(tx, firing, index, failAction.name, (item) => ({ ...item, failures: item.failures + 1 }));
    tx.log(LOG_LEVEL.events, "warn", { ...fields(firing, action), event: "action-failed", fail: failAction.name },
      `fail-action failed: ${describeSpec(failAction.spec)}`);
  }
  runFailAction(tx, { ...firing, running: { index, fail: fail + 1, ok: false } });
}

// A fatal fault of an entity outside any group (faults.ts): its restart actions count as failed,
// so their fail-actions run (then, as for any failed action, the action is removed unless
// HACTIONKEEPONFAIL). Returns how many restart actions had that happen.
export function failRestarts(tx: Tx, entity: string, trigger: Trigger): number {
  const target = tx.entity(entity);
  if (target === undefined) return 0;
  let count = 0;
  for (const condition of target.conditions.values()) {
    if (!condition.enabled) continue;
    for (const action of condition.actions.values()) {
      if (action.spec.kind !== "restart" || !action.enabled) continue;
      count += 1;
      const firing: Firing = {
        id: tx.nextFiringId(), entity, owner: entity, condition: condition.name, actions: [action], trigger, episode: false,
        next: 0, waitUntil: null, launched: null, running: { index: 0, fail: 0, ok: false }, transient: true, queue: null,
      };
      updateAction(tx, firing, 0, (item) => ({ ...item, failures: item.failures + 1 }));
      tx.log(LOG_LEVEL.events, "warn", { ...fields(firing, action), event: "action-failed" }, "restart counted as failed: a fatal fault was raised");
      runFailAction(tx, firing);
    }
  }
  return count;
}

// Runs the failed action's fail-actions in order, then removes the action (and an emptied
// condition) unless the flags keep them.
function runFailAction(tx: Tx, firing: Firing): void {
  const running = firing.running;
  if (running === null || running.fail === null) return;
  tx.setFiring(firing);
  const action = current(tx, firing, running.index);
  const failAction = [...(action.fails?.values() ?? [])][running.fail];
  if (failAction !== undefined) {
    updateFail(tx, firing, running.index, failAction.name, (item) => ({ ...item, runs: item.runs + 1 }));
    settle(tx, firing.id, perform(tx, firing, `${action.name}!${failAction.name}`, failAction.spec));
    return;
  }
  if ((action.flags & HACTIONKEEPONFAIL) === 0) removeFailed(tx, firing, action);
  completed(tx, firing, running.index, false);
}

function removeFailed(tx: Tx, firing: Firing, action: Action): void {
  const condition = tx.entity(firing.owner)?.conditions.get(firing.condition);
  if (condition === undefined || condition.actions.get(action.name)?.id !== action.id) return;
  const logFields = { ...fields(firing, action), event: "action-failed" };
  const actions = condition.actions.delete(action.name);
  forgetActions(tx, new Set([action.id]));
  tx.log(LOG_LEVEL.events, "info", logFields, "failed action removed (no HACTIONKEEPONFAIL)");
  if (actions.size === 0 && (condition.flags & HCONDKEEPONEMPTY) === 0) {
    tx.deleteCondition(firing.owner, condition.name);
    tx.log(LOG_LEVEL.events, "info", logFields, "emptied condition removed (no HCONDKEEPONEMPTY)");
    return;
  }
  tx.setCondition(firing.owner, { ...condition, actions });
}

function completed(tx: Tx, before: Firing, index: number, ok: boolean): void {
  const firing = tx.firings.get(before.id) ?? before;
  const action = current(tx, firing, index);
  const next: Firing = { ...firing, next: index + 1, launched: null, waitUntil: null, running: null };
  tx.setFiring(next);
  if (!ok && (action.flags & HACTIONBREAKONFAIL) !== 0) {
    tx.log(LOG_LEVEL.detail, "info", fields(firing, action), "rest of the list skipped (HACTIONBREAKONFAIL)");
    finish(tx, next);
    return;
  }
  advance(tx, next.id);
}

// A firing ended: its queue's next one starts, and its death's episode counts it done.
function finish(tx: Tx, firing: Firing): void {
  tx.deleteFiring(firing.id);
  if (firing.episode) episodeDone(tx, firing.entity);
  if (firing.queue === null) return;
  const waiting = (tx.queues.get(firing.queue) ?? []).filter((id) => id !== firing.id);
  tx.setQueue(firing.queue, waiting);
  const head = waiting[0];
  if (head !== undefined) advance(tx, head);
}

function perform(tx: Tx, firing: Firing, label: string, spec: ActionSpec | FailSpec): Outcome {
  switch (spec.kind) {
    case "restart":
      return firing.trigger.kind === "probe" ? stopForRestart(tx, firing) : startRestart(tx, firing, spec.line);
    case "execute":
      tx.emit({ kind: "execute", firing: firing.id, entity: firing.entity, line: spec.line });
      return PENDING;
    case "waitfor": {
      // The end of the wait is kept in the state, so a new HAM waits only what is left.
      const until = firing.waitUntil ?? tx.at.mono + spec.delayMs;
      if (firing.waitUntil === null) tx.setFiring({ ...(tx.firings.get(firing.id) ?? firing), waitUntil: until });
      if (spec.path === null) tx.emit({ kind: "arm", id: waitTimer(firing.id), at: until });
      else tx.emit({ kind: "watch-path", firing: firing.id, path: spec.path, until });
      return PENDING;
    }
    case "pulse":
      tx.emit({ kind: "pulse", firing: firing.id, pid: spec.pid, chid: spec.chid, code: spec.code, value: spec.value });
      return PENDING;
    case "signal":
      tx.emit({ kind: "signal", firing: firing.id, pid: spec.pid, signal: spec.signal });
      return PENDING;
    case "healthy": {
      const entity = tx.entity(firing.entity);
      const beat = entity?.run.heartbeat;
      if (entity === undefined || beat == null) return DONE_OK;
      tx.run(entity.name, { heartbeat: healthy(beat) });
      if (entity.run.pid > 0) armHeartbeat(tx, entity.name, 0);
      return DONE_OK;
    }
    case "log": {
      const prefix = spec.prefix ? `${pathOf(firing.entity)}/${firing.condition}/${label}: ` : "";
      tx.log(spec.verbosity, "info", { event: "log-action", entity: firing.entity }, `${prefix}${spec.message}`);
      return DONE_OK;
    }
  }
}

// Actions removed through the API (or replaced by a config apply, or removed after failing):
// firings that captured them skip them (the running one finishes).
export function forgetActions(tx: Tx, ids: ReadonlySet<number>): void {
  if (ids.size === 0) return;
  for (const firing of tx.firings.values()) {
    const keep = firing.actions.filter((action, index) => index < firing.next || index === firing.running?.index || !ids.has(action.id));
    if (keep.length !== firing.actions.length) tx.setFiring({ ...firing, actions: keep });
  }
}

// The action as it is now in its condition when it is still the one captured (its enabled
// bit, its fail-actions and counters), else as captured (pruned since: it still runs).
function current(tx: Tx, firing: Firing, index: number): Action {
  const captured = firing.actions[index] as Action;
  const now = tx.entity(firing.owner)?.conditions.get(firing.condition)?.actions.get(captured.name);
  return now !== undefined && now.id === captured.id ? now : captured;
}

function updateAction(tx: Tx, firing: Firing, index: number, change: (action: Action) => Action): void {
  const captured = firing.actions[index] as Action;
  const condition = tx.entity(firing.owner)?.conditions.get(firing.condition);
  const action = condition?.actions.get(captured.name);
  if (condition === undefined || action === undefined || action.id !== captured.id) return;
  tx.setCondition(firing.owner, { ...condition, actions: condition.actions.set(action.name, change(action)) });
}

function updateFail(tx: Tx, firing: Firing, index: number, name: string, change: (fail: FailAction) => FailAction): void {
  updateAction(tx, firing, index, (action) => {
    const fail = action.fails?.get(name);
    if (fail === undefined || action.fails === null) return action;
    return { ...action, fails: new Map(action.fails).set(name, change(fail)) };
  });
}

function fields(firing: Firing, action: Action): Record<string, unknown> {
  return { entity: pathOf(firing.entity), condition: `${pathOf(firing.owner)}/${firing.condition}`, action: action.name };
}
