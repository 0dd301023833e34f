import { CONDANY, CONDATTACH, CONDDEATH } from "../../../lib/constants.js";
import { HamError } from "../../../lib/errors.js";
import { checkNodeName } from "../../../lib/names.js";
import { LOG_LEVEL } from "../describe.js";
import { newEntity, type EntityState } from "../state.js";
import type { Tx } from "../tx.js";
import { isNodeEntityName, NODE_PREFIX } from "./node-facts.js";

// Node entities (issue 17, AIS CLM's tracking): `@NODE` names a node of the cluster. ham_entity
// makes one (as a placeholder, it may name a node that has not joined yet); its CONDDEATH
// conditions fire when the node's lease is gone (node-down), its CONDATTACH ones when the node
// joins (node-up), with the actions that make sense for a node: execute, notify (signal,
// pulse), log, waitfor. It has no process: no attach, restart, heartbeat, state or raise.

const NODE_CONDITIONS = new Set([CONDDEATH, CONDATTACH, CONDANY]);

export const isNodeEntity = (entity: EntityState | undefined): boolean => entity?.spec.kind === "node";

// ham_entity("@n2"): the node entity, made if it is not there. Outside a cluster: EINVAL.
export function nodeEntity(tx: Tx, ename: string, flags: number): { ename: string } {
  const node = checkNodeName(ename.slice(NODE_PREFIX.length), "node entity");
  if (tx.meta.node === undefined) throw new HamError("EINVAL", `${ename} names a node: this HAM is not in a cluster (ham --node NAME --etcd URL)`);
  if (flags !== 0) throw new HamError("EINVAL", `${ename} is a node entity: it takes no entity flags`);
  if (!tx.entities.has(ename)) {
    tx.put(newEntity(ename, "node", tx.at.wall));
    tx.log(LOG_LEVEL.events, "info", { event: "node-entity", entity: ename, node }, `${ename}: node entity for node ${node}`);
  }
  return { ename };
}

// Anything that needs a process (attach, attach_self) on an "@" name.
export function refuseProcess(ename: string, what: string): void {
  if (isNodeEntityName(ename)) throw new HamError("EINVAL", `${ename} names a node (node entities start with "${NODE_PREFIX}"): ${what} needs a process entity`);
}

export function checkNodeCondition(entity: EntityState, type: number): void {
  if (!isNodeEntity(entity) || NODE_CONDITIONS.has(type)) return;
  throw new HamError("EINVAL", `${entity.name} is a node entity: it takes CONDDEATH (the node is down) and CONDATTACH (it joined) conditions only`);
}

// restart and healthy act on a process: a node has none.
export function checkNodeAction(entity: EntityState, kind: string): void {
  if (isNodeEntity(entity) && (kind === "restart" || kind === "healthy")) {
    throw new HamError("EINVAL", `${entity.name} is a node entity: a ${kind} action makes no sense for a node (execute, notify, log and waitfor do)`);
  }
}

// ham_entity_condition_state / _raise, ham_entity_policy: about a process.
export function refuseNode(entity: EntityState, what: string): void {
  if (isNodeEntity(entity)) throw new HamError("EINVAL", `${entity.name} is a node entity: ${what} is for process entities`);
}
