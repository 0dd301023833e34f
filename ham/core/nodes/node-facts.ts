import { LOG_LEVEL } from "../describe.js";
import { fire } from "../firings.js";
import type { Tx } from "../tx.js";
import type { NodeFact } from "./node-fact.js";

export type { NodeFact };

// What the core knows of the cluster's nodes (issue 17): each node's key there (up) or gone
// (down), from the membership's list and watch (node-up, node-down events). Kept in the shared
// state (the HAM-wide record): a HAM that takes over compares it with etcd's list, so a node
// that went down while no HAM watched fires its node entity's CONDDEATH once, not twice, not zero
// times.


// Node entities are named "@NODE" (lib/names.ts).
export const NODE_PREFIX = "@";
export const nodeEntityName = (node: string): string => `${NODE_PREFIX}${node}`;
export const isNodeEntityName = (name: string): boolean => name.startsWith(NODE_PREFIX);

const NO_NODES: ReadonlyMap<string, NodeFact> = new Map();

export function nodesKnown(tx: Pick<Tx, "meta">): ReadonlyMap<string, NodeFact> {
  return tx.meta.nodes ?? NO_NODES;
}

function setNode(tx: Tx, node: string, fact: NodeFact): void {
  tx.setMeta({ nodes: new Map(nodesKnown(tx)).set(node, fact) });
}

// A node's key is there (listed at the join, or put since). Fires its node entity's CONDATTACH
// when this HAM did not know it up: a node that joined, or came back. `self`: this node, at its join.
export function nodeUp(tx: Tx, node: string, pid: number | null, self: boolean): void {
  if (self && tx.meta.node !== node) tx.setMeta({ node });
  const known = nodesKnown(tx).get(node);
  if (known?.state === "up") {
    // A HAM takeover on that node: its key names the new HAM; no event for the node.
    if (known.pid !== pid) setNode(tx, node, { ...known, pid });
    return;
  }
  setNode(tx, node, { state: "up", pid, sinceMs: tx.at.wall });
  const entity = nodeEntityName(node);
  tx.log(LOG_LEVEL.events, "info", { event: "node-up", node, pid }, `node ${node} is up${pid === null ? "" : ` (pid ${pid})`}`);
  if (tx.entity(entity)?.spec.kind === "node") fire(tx, entity, { kind: "attach" }, false, false);
}

// A node's key went (its lease expired, or it left). Fires its node entity's CONDDEATH when this
// HAM knew it up; a node already known down (a second delete, a re-list after a takeover) fires nothing.
export function nodeDown(tx: Tx, node: string): void {
  const known = nodesKnown(tx).get(node);
  if (known === undefined || known.state === "down") return;
  setNode(tx, node, { state: "down", pid: known.pid, sinceMs: tx.at.wall });
  const entity = nodeEntityName(node);
  const target = tx.entity(entity);
  tx.log(LOG_LEVEL.events, "warn", { event: "node-down", node }, `node ${node} is down (its lease is gone)`);
  if (target?.spec.kind !== "node") return;
  tx.counters(entity, { lastDeathMs: tx.at.wall, deaths: target.counters.deaths + 1, lastExit: "its lease is gone" });
  // Only the node entity's own conditions: the global entity's CONDDEATH is about processes.
  fire(tx, entity, { kind: "death", abnormal: false }, false, false);
}

// The nodes this HAM knew up: on a join, those absent from etcd's list went down meanwhile.
export function nodesUp(meta: Pick<Tx["meta"], "nodes">): string[] {
  return [...(meta.nodes ?? NO_NODES)].filter(([, fact]) => fact.state === "up").map(([name]) => name);
}
