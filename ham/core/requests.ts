import {
  ACTION_FLAGS, CONDATTACH, CONDITION_FLAGS, CONDRAISE, CONDSTATE, ENTITY_FLAGS, HACTIONDONOW, HADDFLAGS, HAMHBEATMIN,
  HCONDNOWAIT, HDISABLE, HENABLE, HGETFLAGS, HRECURSE, HREMOVEFLAGS, HSETFLAGS,
  VERBOSE_GET, VERBOSE_SET, VERBOSE_SET_DECR, VERBOSE_SET_INCR,
} from "../../lib/constants.js";
import { splitCommandLine } from "../../lib/command-line.js";
import { HamError } from "../../lib/errors.js";
import { isDeathType } from "../../lib/tree/conditions.js";
import type { ConditionFilter } from "../../lib/tree/types.js";
import { readActionSpec, readFailSpec, readPolicy, Args, checkFlags } from "./specs.js";
import { armHeartbeat, freshBeat } from "./heartbeats.js";
import { dropEntity } from "./episodes.js";
import type { Caller } from "./events.js";
import { fire, forgetActions, runNow } from "./firings.js";
import { newEntity, actionOf, conditionOf, entityOf, ordered } from "./state.js";
import { LOG_LEVEL } from "./describe.js";
import type { Action, Condition, EntityState } from "./state.js";
import type { Tx } from "./tx.js";

// Every API mutation as a transition. A handler checks everything before it changes
// anything, and throws HamError for bad input; the step then drops the transition whole.

export interface Request {
  readonly ref: number;
  readonly caller: Caller;
  readonly args: Args;
  // Start time of the process the request names (attach by pid, or attach_self's caller).
  readonly pidStart: number | null;
  // Made by the config file `viaConfig` (an attach's spawn then answers no request).
  readonly viaConfig?: string;
}

// The reply comes later, from an event (an attach waits for its spawn).
export const DEFERRED = Symbol("deferred");

type Handler = (tx: Tx, request: Request) => unknown;

// A name may be reused when it is a placeholder or a dead entity kept by HENTITYKEEPONDEATH.
function fillable(entity: EntityState): boolean {
  return entity.spec.kind === "placeholder" || (entity.run.pid === 0 && entity.run.episode === null);
}

function attach(tx: Tx, { ref, args, pidStart, viaConfig }: Request): unknown {
  const ename = args.name("ename", "entity");
  const pid = args.int("pid", -1);
  const line = args.optionalString("line");
  const flags = checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  if (pid <= 0 && line === null) throw new HamError("EINVAL", "ham_attach needs a pid > 0 or a command line");
  if (pid <= 0 && line !== null) splitCommandLine(line);
  const existing = tx.entities.get(ename);
  if (existing !== undefined && !fillable(existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  if (pid > 0 && pidStart === null) throw new HamError("ESRCH", `no process ${pid}`);
  const base = existing ?? newEntity(ename, "attached", tx.at.wall);
  tx.put({
    ...base,
    spec: { ...base.spec, kind: "attached", flags, command: pid > 0 ? null : line },
    counters: { ...base.counters, gaveUp: false },
  });
  if (pid <= 0) {
    const token = tx.nextSpawnToken(ename);
    tx.run(ename, { spawnToken: token });
    tx.emit({ kind: "persist-now" });
    const cause = viaConfig === undefined ? { kind: "attach" as const, ref, previous: existing !== undefined } : { kind: "config" as const, source: viaConfig };
    tx.emit({ kind: "spawn", entity: ename, line: line ?? "", token, cause });
    return DEFERRED;
  }
  tx.run(ename, { pid, startTime: pidStart, ownChild: false });
  tx.emit({ kind: "watch-pid", entity: ename, pid, startTime: pidStart, adopted: false });
  tx.log(LOG_LEVEL.events, "info", { event: "attach", entity: ename, pid }, `${ename} attached (pid ${pid})`);
  if (existing !== undefined) fire(tx, ename, { kind: "attach" });
  return { ename };
}

function attachSelf(tx: Tx, { ref, args, caller, pidStart }: Request): unknown {
  const ename = args.name("ename", "entity");
  const hp = args.int("hp", 0);
  const low = args.int("hpdl", 0);
  const high = args.int("hpdh", 0);
  checkFlags(args.flags(), 0, "ham_attach_self");
  if (caller.pid <= 0) throw new HamError("EINVAL", "no hello received: unknown caller pid");
  if (hp < 0 || (hp > 0 && hp < HAMHBEATMIN)) throw new HamError("EINVAL", `heartbeat period must be 0 or >= ${HAMHBEATMIN} ns`);
  if (low < 0 || high < 0) throw new HamError("EINVAL", "heartbeat thresholds must be >= 0");
  if (low > 0 && high > 0 && low > high) throw new HamError("EINVAL", "hpdl must be <= hpdh");
  const existing = tx.entities.get(ename);
  // A process the HAM started (or attached by pid) may declare itself: same pid, same entity.
  const rebinding = existing !== undefined && existing.run.pid === caller.pid && existing.spec.kind !== "placeholder";
  if (existing !== undefined && !rebinding && !fillable(existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  const base = existing ?? newEntity(ename, "self", tx.at.wall);
  const run = rebinding ? base.run : { ...base.run, pid: caller.pid, startTime: pidStart, ownChild: false };
  tx.put({
    ...base,
    spec: { ...base.spec, kind: "self", heartbeat: hp === 0 ? null : { periodNs: hp, low, high } },
    counters: { ...base.counters, gaveUp: false, startedMs: rebinding ? base.counters.startedMs : tx.at.wall },
    run: { ...run, clientToken: caller.token, heartbeat: hp === 0 ? null : freshBeat() },
  });
  tx.emit({ kind: "bind-self", ref, entity: ename });
  armHeartbeat(tx, ename, 0);
  tx.log(LOG_LEVEL.events, "info", { event: "attach-self", entity: ename, pid: caller.pid }, `${ename} self-attached (pid ${caller.pid})`);
  if (existing !== undefined && !rebinding) fire(tx, ename, { kind: "attach" });
  return { ename };
}

export function detachEntity(tx: Tx, entity: EntityState, how: string): void {
  tx.log(LOG_LEVEL.events, "info", { event: "detach", entity: entity.name, pid: entity.run.pid }, `${entity.name} detached (${how})`);
  // Its detach conditions fire with the entity as it was; then it leaves the HAM.
  fire(tx, entity.name, { kind: "detach" });
  dropEntity(tx, entity.name);
}

function detach(tx: Tx, { args }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity cannot be detached");
  if (entity.spec.kind === "self") throw new HamError("EINVAL", `${entity.name} is self-attached: use ham_detach_self`);
  detachEntity(tx, entity, "ham_detach");
  return 0;
}

function detachSelf(tx: Tx, { args, caller }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind !== "self") throw new HamError("EINVAL", `${entity.name} is not self-attached`);
  if (entity.run.pid !== caller.pid) throw new HamError("EINVAL", `${entity.name} was not attached by the caller`);
  detachEntity(tx, entity, "ham_detach_self");
  return 0;
}

function placeholder(tx: Tx, { args }: Request): unknown {
  const ename = args.name("ename", "entity");
  checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  if (!tx.entities.has(ename)) {
    tx.put(newEntity(ename, "placeholder", tx.at.wall));
    tx.log(LOG_LEVEL.events, "info", { event: "placeholder", entity: ename }, `${ename} placeholder created`);
  }
  return { ename };
}

function reportTarget(tx: Tx, args: Args): EntityState {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "conditions cannot be reported on the global entity");
  return entity;
}

function reportState(tx: Tx, { args }: Request): unknown {
  const entity = reportTarget(tx, args);
  const to = args.int("tostate");
  if (to < 0 || to > 0xffffffff) throw new HamError("EINVAL", "tostate must be an unsigned 32-bit value");
  const from = entity.counters.lastState;
  tx.counters(entity.name, { lastState: to });
  fire(tx, entity.name, { kind: "state", from, to });
  return 0;
}

function reportRaise(tx: Tx, { args }: Request): unknown {
  const entity = reportTarget(tx, args);
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise type, class and severity must be >= 0");
  fire(tx, entity.name, { kind: "raise", type, class: klass, severity });
  return 0;
}

function setPolicy(tx: Tx, { args }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity has no restart policy");
  tx.spec(entity.name, { policy: readPolicy(args.raw("policy"), entity.spec.policy) });
  return 0;
}

// ---- conditions and actions

// Conditions without a filter share one (immutable) filter object.
const PLAIN: ConditionFilter = Object.freeze({ kind: "plain" });

function addCondition(tx: Tx, args: Args, type: number, filter: ConditionFilter): { cname: string } {
  const entity = entityOf(tx.state, args.entityName());
  const cname = args.name("cname", "condition");
  const flags = checkFlags(args.flags(), CONDITION_FLAGS, "condition");
  if (entity.conditions.has(cname)) throw new HamError("EEXIST", `condition ${cname} exists`);
  tx.setCondition(entity.name, { name: cname, type, filter, flags, enabled: true, fired: 0, order: tx.nextOrder(), actions: ordered() });
  return { cname };
}

function condition(tx: Tx, { args }: Request): unknown {
  const type = args.int("type");
  if (type < 0 || type > CONDATTACH) {
    const hint = type === CONDSTATE || type === CONDRAISE ? " (use ham_condition_state / ham_condition_raise)" : "";
    throw new HamError("EINVAL", `invalid condition type ${type}${hint}`);
  }
  return addCondition(tx, args, type, PLAIN);
}

function conditionState(tx: Tx, { args }: Request): unknown {
  const from = args.int("fromstate");
  const to = args.int("tostate");
  if (from < 0 || to < 0 || from > 0xffffffff || to > 0xffffffff) throw new HamError("EINVAL", "states must be unsigned 32-bit values");
  return addCondition(tx, args, CONDSTATE, { kind: "state", from, to });
}

function conditionRaise(tx: Tx, { args }: Request): unknown {
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise filters must be >= 0");
  return addCondition(tx, args, CONDRAISE, { kind: "raise", type, class: klass, severity });
}

function removeCondition(tx: Tx, owner: string, removed: Condition): void {
  tx.deleteCondition(owner, removed.name);
  forgetActions(tx, new Set([...removed.actions.values()].map((action) => action.id)));
}

function conditionRemove(tx: Tx, { args }: Request): unknown {
  const { entity, condition: removed } = conditionOf(tx.state, args.entityName(), args.name("cname", "condition"));
  removeCondition(tx, entity.name, removed);
  return 0;
}

function hasRestart(entity: EntityState): boolean {
  for (const item of entity.conditions.values()) {
    if (!isDeathType(item.type)) continue;
    for (const action of item.actions.values()) if (action.spec.kind === "restart") return true;
  }
  return false;
}

function action(tx: Tx, { args }: Request): unknown {
  const { entity, condition: target } = conditionOf(tx.state, args.entityName(), args.name("cname", "condition"));
  const aname = args.name("aname", "action");
  const flags = checkFlags(args.flags(), ACTION_FLAGS, "action");
  const spec = readActionSpec(args.string("kind"), args);
  if (target.actions.has(aname)) throw new HamError("EEXIST", `action ${aname} exists`);
  if (spec.kind === "waitfor" && (target.flags & HCONDNOWAIT) !== 0) throw new HamError("EINVAL", "no waitfor in an HCONDNOWAIT condition");
  if (spec.kind === "restart") {
    if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity cannot hold a restart action");
    if (!isDeathType(target.type)) throw new HamError("EINVAL", "restart actions belong in CONDDEATH or CONDABNORMALDEATH conditions");
    if (hasRestart(entity)) throw new HamError("EEXIST", `${entity.name} already has a restart action`);
  }
  const item: Action = { name: aname, id: tx.nextActionId(), spec, flags, enabled: true, runs: 0, failures: 0, fails: null };
  const updated = { ...target, actions: target.actions.set(aname, item) };
  tx.setCondition(entity.name, updated);
  const runsNow = spec.kind !== "waitfor" && spec.kind !== "restart" && spec.kind !== "healthy";
  if ((flags & HACTIONDONOW) !== 0 && runsNow) runNow(tx, entity.name, updated, item);
  return { aname };
}

function actionRemove(tx: Tx, { args }: Request): unknown {
  const found = actionOf(tx.state, args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const actions = found.condition.actions.delete(found.action.name);
  tx.setCondition(found.entity.name, { ...found.condition, actions });
  forgetActions(tx, new Set([found.action.id]));
  return 0;
}

function actionFail(tx: Tx, { args }: Request): unknown {
  const found = actionOf(tx.state, args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const fname = args.name("fname", "fail-action");
  checkFlags(args.flags(), 0, "fail-action");
  const spec = readFailSpec(args.string("kind"), args);
  if (found.action.fails?.has(fname) === true) throw new HamError("EEXIST", `fail-action ${fname} exists`);
  if (spec.kind === "waitfor" && (found.condition.flags & HCONDNOWAIT) !== 0) {
    throw new HamError("EINVAL", "no waitfor in an HCONDNOWAIT condition");
  }
  const fails = new Map(found.action.fails ?? []).set(fname, { name: fname, spec, runs: 0, failures: 0 });
  putAction(tx, found.entity.name, found.condition, { ...found.action, fails });
  return 0;
}

function actionFailRemove(tx: Tx, { args }: Request): unknown {
  const found = actionOf(tx.state, args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const fname = args.name("fname", "fail-action");
  if (found.action.fails?.has(fname) !== true) throw new HamError("ENOENT", `no fail-action ${fname}`);
  const fails = new Map(found.action.fails);
  fails.delete(fname);
  putAction(tx, found.entity.name, found.condition, { ...found.action, fails });
  return 0;
}

function putAction(tx: Tx, owner: string, condition: Condition, action: Action): void {
  tx.setCondition(owner, { ...condition, actions: condition.actions.set(action.name, action) });
}

// ---- *_control

type Item =
  | { readonly kind: "entity"; readonly entity: EntityState }
  | { readonly kind: "condition"; readonly entity: EntityState; readonly condition: Condition }
  | { readonly kind: "action"; readonly entity: EntityState; readonly condition: Condition; readonly action: Action };

function findItem(tx: Tx, args: Args): Item {
  const ename = args.entityName();
  if (!args.has("cname")) return { kind: "entity", entity: entityOf(tx.state, ename) };
  const cname = args.name("cname", "condition");
  if (!args.has("aname")) return { kind: "condition", ...conditionOf(tx.state, ename, cname) };
  return { kind: "action", ...actionOf(tx.state, ename, cname, args.name("aname", "action")) };
}

function withActionsEnabled(condition: Condition, enabled: boolean): Condition {
  return { ...condition, enabled, actions: condition.actions.map((item) => ({ ...item, enabled })) };
}

function setEnabled(tx: Tx, item: Item, enabled: boolean, recurse: boolean): void {
  switch (item.kind) {
    case "entity": {
      tx.spec(item.entity.name, { enabled });
      if (recurse) {
        tx.setConditions(item.entity.name, item.entity.conditions.map((child) => withActionsEnabled(child, enabled)));
      }
      return;
    }
    case "condition":
      tx.setCondition(item.entity.name, recurse ? withActionsEnabled(item.condition, enabled) : { ...item.condition, enabled });
      return;
    case "action":
      putAction(tx, item.entity.name, item.condition, { ...item.action, enabled });
      return;
  }
}

function flagsOf(item: Item): number {
  return item.kind === "entity" ? item.entity.spec.flags : item.kind === "condition" ? item.condition.flags : item.action.flags;
}

function control(tx: Tx, { args }: Request): unknown {
  const item = findItem(tx, args);
  const command = args.int("command");
  const flags = args.flags();
  if (command === HENABLE || command === HDISABLE) {
    checkFlags(flags, HRECURSE, "enable/disable");
    setEnabled(tx, item, command === HENABLE, (flags & HRECURSE) !== 0);
    return 0;
  }
  const current = flagsOf(item);
  if (command === HGETFLAGS) return current;
  const valid = item.kind === "entity" ? ENTITY_FLAGS : item.kind === "condition" ? CONDITION_FLAGS : ACTION_FLAGS;
  checkFlags(flags, valid, item.kind);
  let next: number;
  if (command === HADDFLAGS) next = current | flags;
  else if (command === HREMOVEFLAGS) next = current & ~flags;
  else if (command === HSETFLAGS) next = flags;
  else throw new HamError("EINVAL", `invalid control command ${command}`);
  const adds = next & ~current;
  if (item.kind === "action" && (adds & HACTIONDONOW) !== 0) throw new HamError("EINVAL", "HACTIONDONOW cannot be set by control");
  if (item.kind === "condition" && (adds & HCONDNOWAIT) !== 0 &&
    [...item.condition.actions.values()].some((a) => a.spec.kind === "waitfor")) {
    throw new HamError("EINVAL", "HCONDNOWAIT cannot be set on a condition holding waitfor actions");
  }
  next >>>= 0;
  if (item.kind === "entity") tx.spec(item.entity.name, { flags: next });
  else if (item.kind === "condition") tx.setCondition(item.entity.name, { ...item.condition, flags: next });
  else putAction(tx, item.entity.name, item.condition, { ...item.action, flags: next });
  return 0;
}

function lookup(tx: Tx, { args }: Request): unknown {
  findItem(tx, args);
  return 0;
}

function verbose(tx: Tx, { args }: Request): unknown {
  const op = args.int("op");
  const value = args.int("value", 0);
  if (value < 0) throw new HamError("EINVAL", "verbosity value must be >= 0");
  const step = value === 0 ? 1 : value;
  const current = tx.meta.verbosity;
  let next: number;
  switch (op) {
    case VERBOSE_SET_INCR:
      next = current + step;
      break;
    case VERBOSE_SET_DECR:
      next = Math.max(0, current - step);
      break;
    case VERBOSE_SET:
      next = value;
      break;
    case VERBOSE_GET:
      return current;
    default:
      throw new HamError("EINVAL", `invalid verbosity operation ${op}`);
  }
  tx.setMeta({ verbosity: next });
  tx.emit({ kind: "verbosity", value: next });
  return 0;
}

export const REQUESTS: Readonly<Record<string, Handler>> = {
  attach, attach_self: attachSelf, detach, detach_self: detachSelf, entity: placeholder,
  entity_condition_state: reportState, entity_condition_raise: reportRaise, policy: setPolicy,
  condition, condition_state: conditionState, condition_raise: conditionRaise, condition_remove: conditionRemove,
  action, action_remove: actionRemove, action_fail: actionFail, action_fail_remove: actionFailRemove,
  control, lookup, verbose,
};

export function isCoreRequest(op: string): boolean {
  return Object.hasOwn(REQUESTS, op);
}

// Runs one request inside `tx`; throws HamError for bad input.
export function applyRequest(tx: Tx, op: string, request: Request): unknown {
  const handler = Object.hasOwn(REQUESTS, op) ? REQUESTS[op] : undefined;
  if (handler === undefined) throw new HamError("EINVAL", `unknown operation ${op}`);
  return handler(tx, request);
}
