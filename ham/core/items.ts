import {
  ACTION_FLAGS, CONDATTACH, CONDDEATH, CONDITION_FLAGS, CONDPROBEFAIL, CONDRAISE, CONDSTATE, ENTITY_FLAGS, HACTIONDONOW, HADDFLAGS,
  HCONDNOWAIT, HDISABLE, HENABLE, HGETFLAGS, HRECURSE, HREMOVEFLAGS, HSETFLAGS,
} from "../../lib/constants.js";
import { HamError } from "../../lib/errors.js";
import { isDeathType, isGroupConditionType } from "../../lib/tree/conditions.js";
import type { ConditionFilter } from "../../lib/tree/types.js";
import { readActionSpec, readFailSpec, checkFlags, type Args, type Request } from "./specs.js";
import { forgetActions, runNow } from "./firings.js";
import { actionOf, conditionOf, entityOf, ordered, type Action, type Condition, type EntityState } from "./state.js";
import type { Tx } from "./tx.js";
import { checkNodeAction, checkNodeCondition } from "./nodes/node-entities.js";

// The API mutations of conditions, actions and fail-actions, and *_control / lookup
// (requests.ts has the table of every request).



// Conditions without a filter share one (immutable) filter object.
const PLAIN: ConditionFilter = Object.freeze({ kind: "plain" });
const FAILURE: ConditionFilter = Object.freeze({ kind: "failure" });

function addCondition(tx: Tx, args: Args, type: number, filter: ConditionFilter): { cname: string } {
  const entity = entityOf(tx.state, args.entityName());
  checkNodeCondition(entity, type);
  const cname = args.name("cname", "condition");
  const flags = checkFlags(args.flags(), CONDITION_FLAGS, "condition");
  if (entity.conditions.has(cname)) throw new HamError("EEXIST", `condition ${cname} exists`);
  tx.setCondition(entity.name, { name: cname, type, filter, flags, enabled: true, fired: 0, order: tx.nextOrder(), actions: ordered() });
  return { cname };
}

export function condition(tx: Tx, { args }: Request): unknown {
  const type = args.int("type");
  if ((type < 0 || type > CONDATTACH) && !isGroupConditionType(type) && type !== CONDPROBEFAIL) {
    const hint = type === CONDSTATE || type === CONDRAISE ? " (use ham_condition_state / ham_condition_raise)" : "";
    throw new HamError("EINVAL", `invalid condition type ${type}${hint}`);
  }
  // hamd's extension (restart: on-failure): a CONDDEATH that a clean exit (status 0) does not fire.
  const failureOnly = args.bool("failureOnly", false);
  if (failureOnly && type !== CONDDEATH) throw new HamError("EINVAL", "failureOnly: only a CONDDEATH condition takes it");
  return addCondition(tx, args, type, failureOnly ? FAILURE : PLAIN);
}

export function conditionState(tx: Tx, { args }: Request): unknown {
  const from = args.int("fromstate");
  const to = args.int("tostate");
  if (from < 0 || to < 0 || from > 0xffffffff || to > 0xffffffff) throw new HamError("EINVAL", "states must be unsigned 32-bit values");
  return addCondition(tx, args, CONDSTATE, { kind: "state", from, to });
}

export function conditionRaise(tx: Tx, { args }: Request): unknown {
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise filters must be >= 0");
  return addCondition(tx, args, CONDRAISE, { kind: "raise", type, class: klass, severity });
}

function removeCondition(tx: Tx, owner: string, removed: Condition): void {
  tx.deleteCondition(owner, removed.name);
  forgetActions(tx, new Set([...removed.actions.values()].map((action) => action.id)));
}

export function conditionRemove(tx: Tx, { args }: Request): unknown {
  const { entity, condition: removed } = conditionOf(tx.state, args.entityName(), args.name("cname", "condition"));
  removeCondition(tx, entity.name, removed);
  return 0;
}

// Whether a death condition of the entity holds its restart action (at most one does).
export function hasRestart(entity: EntityState): boolean {
  for (const item of entity.conditions.values()) {
    if (!isDeathType(item.type)) continue;
    for (const action of item.actions.values()) if (action.spec.kind === "restart") return true;
  }
  return false;
}

export function action(tx: Tx, { args }: Request): unknown {
  const { entity, condition: target } = conditionOf(tx.state, args.entityName(), args.name("cname", "condition"));
  const aname = args.name("aname", "action");
  const flags = checkFlags(args.flags(), ACTION_FLAGS, "action");
  const spec = readActionSpec(args.string("kind"), args);
  if (target.actions.has(aname)) throw new HamError("EEXIST", `action ${aname} exists`);
  checkNodeAction(entity, spec.kind);
  if (spec.kind === "waitfor" && (target.flags & HCONDNOWAIT) !== 0) throw new HamError("EINVAL", "no waitfor in an HCONDNOWAIT condition");
  if (spec.kind === "restart") {
    if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity cannot hold a restart action");
    // In a CONDPROBEFAIL condition it stops the process for its death condition's restart (restart.ts).
    const probe = target.type === CONDPROBEFAIL;
    if (!isDeathType(target.type) && !probe) throw new HamError("EINVAL", "restart actions belong in CONDDEATH, CONDABNORMALDEATH or CONDPROBEFAIL conditions");
    if (!probe && hasRestart(entity)) throw new HamError("EEXIST", `${entity.name} already has a restart action`);
  }
  const item: Action = { name: aname, id: tx.nextActionId(), spec, flags, enabled: true, runs: 0, failures: 0, fails: null };
  const updated = { ...target, actions: target.actions.set(aname, item) };
  tx.setCondition(entity.name, updated);
  const runsNow = spec.kind !== "waitfor" && spec.kind !== "restart" && spec.kind !== "healthy";
  if ((flags & HACTIONDONOW) !== 0 && runsNow) runNow(tx, entity.name, updated, item);
  return { aname };
}

export function actionRemove(tx: Tx, { args }: Request): unknown {
  const found = actionOf(tx.state, args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const actions = found.condition.actions.delete(found.action.name);
  tx.setCondition(found.entity.name, { ...found.condition, actions });
  forgetActions(tx, new Set([found.action.id]));
  return 0;
}

export function actionFail(tx: Tx, { args }: Request): unknown {
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

export function actionFailRemove(tx: Tx, { args }: Request): unknown {
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

export function control(tx: Tx, { args }: Request): unknown {
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

export function lookup(tx: Tx, { args }: Request): unknown {
  findItem(tx, args);
  return 0;
}

