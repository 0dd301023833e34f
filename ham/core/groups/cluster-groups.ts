import { HamError } from "../../../lib/errors.js";
import { checkName } from "../../../lib/names.js";
import { LOG_LEVEL } from "../describe.js";
import type { Tx } from "../tx.js";
import type { Meta } from "../state.js";
import type { ClusterFacts, GroupModel, GroupState, Member } from "./group-state.js";
import { assign, cancelAck, mayServe, memberFailed, reconcile } from "./roles.js";
import { withCluster } from "./election-step.js";
import { acrossHolder, nodesOf, yielding } from "./cross-switchover.js";
import { nodesUp } from "../nodes/node-facts.js";

// Service groups across the nodes of a cluster (issue 17). A member written NAME@NODE is entity
// NAME on node NODE; each node declares the group with the same name, model and members, and
// manages its own members only. Which node may have an active member is decided by etcd: the key
// /hamd/<cluster>/groups/<group>/active, put on the holder's lease by a transaction that succeeds
// only if the key does not exist (ham/cluster/election.ts). Here, the core's side:
//  - a local member is made active only while this node holds the key (`token`) and its lease
//    deadline has not passed (`leaseOk`);
//  - a node campaigns when the key is free and one of its members acknowledged standby; a node
//    that holds the key with no member able to serve resigns (a delete conditioned on `token`);
//  - at the lease deadline the node quiesces its serving members and kills those that do not
//    acknowledge within QUIESCE_ACK_MS, so none serves when etcd can have expired the lease.

// The deadline is 300 ms (DEFAULTS.leaseMarginMs) before the lease can expire: a member that has
// not acknowledged `quiesced` by then is killed, with 100 ms left for the kill and its death.
export const QUIESCE_ACK_MS = 200;

export const isClusterMember = (name: string): boolean => name.includes("@");

// The members of a group being made: this node's entity names, and (a cluster group) every
// member as declared. EINVAL outside a cluster, or if the names mix the two forms.
export function splitMembers(tx: Tx, names: readonly string[], model: GroupModel): { local: string[]; cluster: readonly string[] | null } {
  if (!names.some(isClusterMember)) return { local: [...names], cluster: null };
  const self = tx.meta.node;
  if (self === undefined) throw new HamError("EINVAL", "members NAME@NODE make a cluster group: this HAM is not in a cluster (ham --node NAME --etcd URL)");
  if (model === "N-way-active") throw new HamError("EINVAL", "a cluster group is 2N or no-redundancy (one election decides its active node)");
  const local: string[] = [];
  for (const name of names) {
    const at = name.lastIndexOf("@");
    if (at <= 0 || at === name.length - 1) throw new HamError("EINVAL", `cluster group members are all NAME@NODE: ${name}`);
    const node = checkName(name.slice(at + 1), "node");
    if (node === self) local.push(checkName(name.slice(0, at), "entity"));
  }
  if (local.length === 0) throw new HamError("EINVAL", `no member is on this node (${self}): declare the group on the nodes that host its members`);
  return { local, cluster: names };
}

export const newClusterFacts = (members: readonly string[]): ClusterFacts => ({ members, token: null, holder: null, campaigning: false });

// ---- events from ham/cluster/

export function elected(tx: Tx, gname: string, token: string): void {
  const group = tx.groups.get(gname);
  if (group?.cluster === undefined || group.deleting === true) {
    // A key of this node for a group it no longer has: given back.
    tx.emit({ kind: "resign", group: gname, token });
    return;
  }
  // Given up for a switchover to another node, and still here (its resign was lost with a HAM
  // that died, or not seen yet): given up again, the window goes on (cross-switchover.ts).
  if (yielding(group)) {
    tx.emit({ kind: "resign", group: gname, token, yielded: true });
    return;
  }
  // The key it held already (a refresh after a join or a lease back): its members may serve again.
  if (group.cluster.token === token) {
    reconcile(tx, gname);
    return;
  }
  tx.log(LOG_LEVEL.events, "info", { event: "elected", group: gname, token }, `${gname}: this node holds its election (token ${token})`);
  withCluster(tx, group, { token, holder: tx.meta.node ?? null, campaigning: false });
  reconcile(tx, gname);
}

// `yielded`: the key was given up by its holder for a switchover (not a failure there).
export function holder(tx: Tx, gname: string, node: string | null, yielded = false): void {
  let group = tx.groups.get(gname);
  if (group?.cluster === undefined) return;
  const self = tx.meta.node;
  // Ours: `elected` says so with the token.
  if (node !== null && node === self) return;
  // This node gave the key up for a switchover, and another took it: done.
  if (node !== null) {
    acrossHolder(tx, gname, node);
    group = tx.groups.get(gname) ?? group;
  }
  const before = group.cluster?.holder ?? null;
  let next = withCluster(tx, group, { holder: node, campaigning: false, token: null });
  if ((group.cluster?.token ?? null) !== null) {
    // The key went while this node held it (its lease expired unseen): no member here may serve on.
    tx.log(LOG_LEVEL.events, "error", { event: "election-lost", group: gname, holder: node }, `${gname}: its election key is no longer this node's`);
    for (const member of next.members) if (mayServe(member)) memberFailed(tx, member.name, "its node lost the group's election");
    next = tx.groups.get(gname) ?? next;
  }
  if (node !== null && next.failure !== null) {
    // Another node serves: a failure here is over (this node's counts are of its own failovers).
    next = tx.putGroup({ ...next, failure: null });
  } else if (node === null && before !== null && before !== self && next.failure === null && !yielded) {
    // Another node's active went: this node's standby takes over (counted as a failover here).
    next = tx.putGroup({ ...next, failure: { member: `@${before}`, at: tx.at.mono, announced: false } });
  } else if (node === null && yielded && before !== null && before !== self) {
    tx.log(LOG_LEVEL.events, "info", { event: "yielded", group: gname, node: before }, `${gname}: node ${before} gave up its election for a switchover`);
  }
  if (node !== before) {
    tx.log(LOG_LEVEL.detail, "info", { event: "holder", group: gname, holder: node }, `${gname}: ${node === null ? "its election key is free" : `node ${node} holds its election`}`);
  }
  reconcile(tx, gname);
}

export function leaseState(tx: Tx, state: "ok" | "expiring"): void {
  const ok = state === "ok";
  if (tx.meta.leaseOk === ok) return;
  tx.setMeta({ leaseOk: ok });
  for (const group of [...tx.groups.values()]) {
    if (group.cluster === undefined) continue;
    if (ok) {
      reconcile(tx, group.name);
      continue;
    }
    // Holder of nothing until the lease is acknowledged again (election.ts reads the key then).
    let next = withCluster(tx, group, { token: null, holder: null, campaigning: false });
    for (const member of group.members) {
      if (!mayServe(member) || member.failing || (tx.entity(member.name)?.run.pid ?? 0) <= 0) continue;
      cancelAck(tx, next, member);
      tx.log(LOG_LEVEL.events, "warn", { event: "quiesce", group: group.name, entity: member.name },
        `${member.name} quiesced in ${group.name}: this node's lease deadline passed`);
      next = assign(tx, next, member.name, "quiesced", QUIESCE_ACK_MS);
    }
  }
}

export function nodeUp(tx: Tx, node: string, self: boolean, ttlMs: number | null = null): void {
  if (self) {
    if (ttlMs !== null && tx.meta.leaseTtlMs !== ttlMs) tx.setMeta({ leaseTtlMs: ttlMs });
    // Its join: the lease was just acknowledged (node-facts.ts may have set the name already).
    // The groups are reconciled then: while a HAM that took over had not joined yet, its members
    // were made standby only (the lab found a group held by this node with no active, for good).
    if (tx.meta.node !== node || tx.meta.leaseOk !== true) {
      tx.setMeta({ node, leaseOk: true });
      for (const group of [...tx.groups.values()]) if (group.cluster !== undefined) reconcile(tx, group.name);
    }
    return;
  }
  // Runs before node-facts.ts records the node up (step.ts): a node already known up says nothing.
  if (nodesUp(tx.meta).includes(node)) return;
  for (const group of tx.groups.values()) {
    if (group.cluster !== undefined && nodesOf(group.cluster.members).includes(node)) {
      const waiting = waitingFor(tx.meta, group, node);
      tx.log(LOG_LEVEL.events, "info", { event: "group-node-up", group: group.name, node, waiting },
        `${group.name}: node ${node} is up${waiting.length === 0 ? "; every node of the group is" : `; still waiting for ${waiting.join(", ")}`}`);
    }
  }
}

export type NodesKnown = Pick<Meta, "node" | "nodes">;

// The nodes of a cluster group whose keys are not there (never joined, or down): the group
// serves with the nodes it has and waits for these. `alsoUp`: a node being told up now.
export function waitingFor(meta: NodesKnown, group: GroupState, alsoUp: string | null = null): string[] {
  if (group.cluster === undefined) return [];
  const up = new Set([...nodesUp(meta), meta.node, alsoUp]);
  return nodesOf(group.cluster.members).filter((node) => !up.has(node));
}
