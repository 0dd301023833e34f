import { HamError } from "../errors.js";
import { checkName } from "../names.js";
import {
  checkHandle, pathArgs, placeOfNd, requestConnected, type ham_action_t, type ham_condition_t, type ham_entity_t,
} from "./handles.js";
import { placeOfNode, type Place } from "./session.js";

// Conditions, *_control and the condition/action handle lookups.

function conditionHandle(entity: ham_entity_t, cname: string): ham_condition_t {
  return { kind: "condition", runDir: entity.runDir, node: entity.node, ename: entity.ename, cname, freed: false };
}

async function addCondition(ehdl: ham_entity_t, op: string, cname: string, args: Record<string, unknown>): Promise<ham_condition_t> {
  const entity = checkHandle(ehdl, "entity");
  checkName(cname, "condition");
  await requestConnected(entity, op, { ename: entity.ename, cname, ...args });
  return conditionHandle(entity, cname);
}

export function ham_condition(ehdl: ham_entity_t, type: number, cname: string, flags = 0): Promise<ham_condition_t> {
  return Promise.resolve().then(() => addCondition(ehdl, "condition", cname, { type, flags }));
}

export function ham_condition_state(
  ehdl: ham_entity_t, cname: string, fromstate: number, tostate: number, flags = 0,
): Promise<ham_condition_t> {
  return Promise.resolve().then(() => addCondition(ehdl, "condition_state", cname, { fromstate, tostate, flags }));
}

export function ham_condition_raise(
  ehdl: ham_entity_t, cname: string, rtype: number, rclass: number, rseverity: number, flags = 0,
): Promise<ham_condition_t> {
  return Promise.resolve().then(() => addCondition(ehdl, "condition_raise", cname, { rtype, rclass, rseverity, flags }));
}

export async function ham_condition_remove(chdl: ham_condition_t, _flags = 0): Promise<number> {
  const condition = checkHandle(chdl, "condition");
  return Number(await requestConnected(condition, "condition_remove", pathArgs(condition)));
}

async function control(handle: ham_entity_t | ham_condition_t | ham_action_t, command: number, flags: number): Promise<number> {
  return Number(await requestConnected(handle, "control", { ...pathArgs(handle), command, flags }));
}

export async function ham_entity_control(ehdl: ham_entity_t, command: number, flags = 0): Promise<number> {
  return control(checkHandle(ehdl, "entity"), command, flags);
}
export async function ham_condition_control(chdl: ham_condition_t, command: number, flags = 0): Promise<number> {
  return control(checkHandle(chdl, "condition"), command, flags);
}
export async function ham_action_control(ahdl: ham_action_t, command: number, flags = 0): Promise<number> {
  return control(checkHandle(ahdl, "action"), command, flags);
}

function lookupNames(ename: string | null, cname: unknown, aname?: unknown): void {
  if (ename !== null) checkName(ename, "entity");
  if (cname === null || cname === undefined) throw new HamError("EINVAL", "condition name is required");
  checkName(cname, "condition");
  if (aname !== undefined) {
    if (aname === null) throw new HamError("EINVAL", "action name is required");
    checkName(aname, "action");
  }
}

async function conditionLookup(place: Place, ename: string | null, cname: string): Promise<ham_condition_t> {
  lookupNames(ename, cname);
  await requestConnected(place, "lookup", { ename, cname });
  return { kind: "condition", runDir: place.runDir, node: place.node, ename, cname, freed: false };
}

async function actionLookup(place: Place, ename: string | null, cname: string, aname: string): Promise<ham_action_t> {
  lookupNames(ename, cname, aname);
  await requestConnected(place, "lookup", { ename, cname, aname });
  return { kind: "action", runDir: place.runDir, node: place.node, ename, cname, aname, freed: false };
}

export function ham_condition_handle(nd: number, ename: string | null, cname: string, _flags = 0): Promise<ham_condition_t> {
  return Promise.resolve().then(() => conditionLookup(placeOfNd(nd), ename, cname));
}
export function ham_condition_handle_node(nodename: string | null, ename: string | null, cname: string, _flags = 0): Promise<ham_condition_t> {
  return Promise.resolve().then(() => conditionLookup(placeOfNode(nodename), ename, cname));
}
export function ham_action_handle(nd: number, ename: string | null, cname: string, aname: string, _flags = 0): Promise<ham_action_t> {
  return Promise.resolve().then(() => actionLookup(placeOfNd(nd), ename, cname, aname));
}
export function ham_action_handle_node(
  nodename: string | null, ename: string | null, cname: string, aname: string, _flags = 0,
): Promise<ham_action_t> {
  return Promise.resolve().then(() => actionLookup(placeOfNode(nodename), ename, cname, aname));
}

export async function ham_condition_handle_free(chdl: ham_condition_t): Promise<number> {
  checkHandle(chdl, "condition").freed = true;
  return 0;
}
export async function ham_action_handle_free(ahdl: ham_action_t): Promise<number> {
  checkHandle(ahdl, "action").freed = true;
  return 0;
}
