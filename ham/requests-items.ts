import {
  ACTION_FLAGS, CONDABNORMALDEATH, CONDATTACH, CONDDEATH, CONDITION_FLAGS, CONDRAISE, CONDSTATE, ENTITY_FLAGS,
  HACTIONDONOW, HADDFLAGS, HCONDNOWAIT, HDISABLE, HENABLE, HGETFLAGS, HRECURSE, HREMOVEFLAGS, HSETFLAGS,
} from "../lib/constants.js";
import { isDeathType } from "../lib/tree/conditions.js";
import { HamError } from "../lib/errors.js";
import type { Action, Condition, ConditionFilter, Entity } from "../lib/tree/types.js";
import type { HamContext } from "./context.js";
import { readActionSpec, readFailSpec } from "./action-specs.js";
import { checkFlags, type Args } from "./request-args.js";

// Conditions, actions, fail-actions, removal and *_control.


function addCondition(ham: HamContext, args: Args, type: number, filter: ConditionFilter): { cname: string } {
  const entity = ham.tree.entity(args.entityName());
  const cname = args.name("cname", "condition");
  const flags = checkFlags(args.flags(), CONDITION_FLAGS, "condition");
  if (entity.conditions.has(cname)) throw new HamError("EEXIST", `condition ${cname} exists`);
  entity.conditions.set(cname, { name: cname, type, filter, flags, enabled: true, fired: 0, actions: new Map() });
  return { cname };
}

// Conditions without a filter share one (immutable) filter object.
const PLAIN: ConditionFilter = Object.freeze({ kind: "plain" });

export function condition(ham: HamContext, args: Args): { cname: string } {
  const type = args.int("type");
  if (type < 0 || type > CONDATTACH) {
    const hint = type === CONDSTATE || type === CONDRAISE ? " (use ham_condition_state / ham_condition_raise)" : "";
    throw new HamError("EINVAL", `invalid condition type ${type}${hint}`);
  }
  return addCondition(ham, args, type, PLAIN);
}

export function conditionState(ham: HamContext, args: Args): { cname: string } {
  const from = args.int("fromstate");
  const to = args.int("tostate");
  if (from < 0 || to < 0 || from > 0xffffffff || to > 0xffffffff) throw new HamError("EINVAL", "states must be unsigned 32-bit values");
  return addCondition(ham, args, CONDSTATE, { kind: "state", from, to });
}

export function conditionRaise(ham: HamContext, args: Args): { cname: string } {
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise filters must be >= 0");
  return addCondition(ham, args, CONDRAISE, { kind: "raise", type, class: klass, severity });
}

export function conditionRemove(ham: HamContext, args: Args): number {
  const { entity, condition: removed } = ham.tree.condition(args.entityName(), args.name("cname", "condition"));
  entity.conditions.delete(removed.name);
  for (const action of removed.actions.values()) action.removed = true;
  return 0;
}

function hasRestart(entity: Entity): boolean {
  for (const item of entity.conditions.values()) {
    if (!isDeathType(item.type)) continue;
    for (const action of item.actions.values()) if (action.spec.kind === "restart") return true;
  }
  return false;
}

export function action(ham: HamContext, args: Args): { aname: string } {
  const { entity, condition: target } = ham.tree.condition(args.entityName(), args.name("cname", "condition"));
  const aname = args.name("aname", "action");
  const flags = checkFlags(args.flags(), ACTION_FLAGS, "action");
  const spec = readActionSpec(args.string("kind"), args);
  if (target.actions.has(aname)) throw new HamError("EEXIST", `action ${aname} exists`);
  if (spec.kind === "waitfor" && (target.flags & HCONDNOWAIT) !== 0) throw new HamError("EINVAL", "no waitfor in an HCONDNOWAIT condition");
  if (spec.kind === "restart") {
    if (entity.kind === "global") throw new HamError("EINVAL", "the global entity cannot hold a restart action");
    if (!isDeathType(target.type)) throw new HamError("EINVAL", "restart actions belong in CONDDEATH or CONDABNORMALDEATH conditions");
    if (hasRestart(entity)) throw new HamError("EEXIST", `${entity.name} already has a restart action`);
  }
  const item: Action = { name: aname, spec, flags, enabled: true, removed: false, runs: 0, failures: 0, fails: null };
  target.actions.set(aname, item);
  const runsNow = spec.kind !== "waitfor" && spec.kind !== "restart" && spec.kind !== "healthy";
  if ((flags & HACTIONDONOW) !== 0 && runsNow) ham.monitor.runNow(entity, target, aname);
  return { aname };
}

export function actionRemove(ham: HamContext, args: Args): number {
  const found = ham.tree.action(args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  found.condition.actions.delete(found.action.name);
  found.action.removed = true;
  return 0;
}

export function actionFail(ham: HamContext, args: Args): number {
  const found = ham.tree.action(args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const fname = args.name("fname", "fail-action");
  checkFlags(args.flags(), 0, "fail-action");
  const spec = readFailSpec(args.string("kind"), args);
  if (found.action.fails?.has(fname) === true) throw new HamError("EEXIST", `fail-action ${fname} exists`);
  if (spec.kind === "waitfor" && (found.condition.flags & HCONDNOWAIT) !== 0) {
    throw new HamError("EINVAL", "no waitfor in an HCONDNOWAIT condition");
  }
  (found.action.fails ??= new Map()).set(fname, { name: fname, spec, runs: 0, failures: 0 });
  return 0;
}

export function actionFailRemove(ham: HamContext, args: Args): number {
  const found = ham.tree.action(args.entityName(), args.name("cname", "condition"), args.name("aname", "action"));
  const fname = args.name("fname", "fail-action");
  if (found.action.fails?.delete(fname) !== true) throw new HamError("ENOENT", `no fail-action ${fname}`);
  return 0;
}

type Item =
  | { kind: "entity"; entity: Entity }
  | { kind: "condition"; condition: Condition }
  | { kind: "action"; action: Action; condition: Condition };

function findItem(ham: HamContext, args: Args): Item {
  const ename = args.entityName();
  if (!args.has("cname")) return { kind: "entity", entity: ham.tree.entity(ename) };
  const cname = args.name("cname", "condition");
  if (!args.has("aname")) return { kind: "condition", condition: ham.tree.condition(ename, cname).condition };
  const found = ham.tree.action(ename, cname, args.name("aname", "action"));
  return { kind: "action", action: found.action, condition: found.condition };
}

function setEnabled(item: Item, enabled: boolean, recurse: boolean): void {
  switch (item.kind) {
    case "entity":
      item.entity.enabled = enabled;
      if (recurse) for (const child of item.entity.conditions.values()) setEnabled({ kind: "condition", condition: child }, enabled, true);
      return;
    case "condition":
      item.condition.enabled = enabled;
      if (recurse) for (const child of item.condition.actions.values()) child.enabled = enabled;
      return;
    case "action":
      item.action.enabled = enabled;
      return;
  }
}

export function control(ham: HamContext, args: Args): number {
  const item = findItem(ham, args);
  const command = args.int("command");
  const flags = args.flags();
  if (command === HENABLE || command === HDISABLE) {
    checkFlags(flags, HRECURSE, "enable/disable");
    setEnabled(item, command === HENABLE, (flags & HRECURSE) !== 0);
    return 0;
  }
  const holder = item.kind === "entity" ? item.entity : item.kind === "condition" ? item.condition : item.action;
  if (command === HGETFLAGS) return holder.flags;
  const valid = item.kind === "entity" ? ENTITY_FLAGS : item.kind === "condition" ? CONDITION_FLAGS : ACTION_FLAGS;
  checkFlags(flags, valid, item.kind);
  let next: number;
  if (command === HADDFLAGS) next = holder.flags | flags;
  else if (command === HREMOVEFLAGS) next = holder.flags & ~flags;
  else if (command === HSETFLAGS) next = flags;
  else throw new HamError("EINVAL", `invalid control command ${command}`);
  const adds = next & ~holder.flags;
  if (item.kind === "action" && (adds & HACTIONDONOW) !== 0) throw new HamError("EINVAL", "HACTIONDONOW cannot be set by control");
  if (item.kind === "condition" && (adds & HCONDNOWAIT) !== 0 &&
    [...item.condition.actions.values()].some((a) => a.spec.kind === "waitfor")) {
    throw new HamError("EINVAL", "HCONDNOWAIT cannot be set on a condition holding waitfor actions");
  }
  holder.flags = next >>> 0;
  return 0;
}

export function lookup(ham: HamContext, args: Args): number {
  findItem(ham, args);
  return 0;
}
