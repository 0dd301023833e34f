import { LOG_LEVEL } from "../describe.js";
import { yieldTimer, type Tx } from "../tx.js";
import type { ClusterFacts, GroupState, Member } from "./group-state.js";

// The election's step of a cluster group, as roles.ts's reconcile takes it (cluster-groups.ts has
// the rest: its own file so that roles.ts and cluster-groups.ts do not import each other).

// Whether a local member of `group` may be made active now.
export function mayActivate(tx: Tx, group: GroupState): boolean {
  return group.cluster === undefined || (tx.meta.leaseOk === true && group.cluster.token !== null);
}

export function withCluster(tx: Tx, group: GroupState, patch: Partial<ClusterFacts>): GroupState {
  return group.cluster === undefined ? group : tx.putGroup({ ...group, cluster: { ...group.cluster, ...patch } });
}

// reconcile found no member serving: campaign for the key (a member acknowledged standby and the
// key is free), or give it up (held, and no member to serve). `candidate`: the member it would
// make active.
export function electionStep(tx: Tx, group: GroupState, candidate: Member | undefined): GroupState {
  const facts = group.cluster;
  if (facts === undefined || tx.meta.leaseOk !== true) return group;
  if (facts.token !== null) {
    if (candidate !== undefined) return group;
    tx.log(LOG_LEVEL.events, "warn", { event: "resign", group: group.name, token: facts.token },
      `${group.name}: no member on this node can serve; giving up its election (token ${facts.token})`);
    tx.emit({ kind: "resign", group: group.name, token: facts.token });
    return withCluster(tx, group, { token: null });
  }
  // A 2N group campaigns with an acknowledged standby (it is made active at once when elected).
  if (facts.holder !== null || facts.campaigning || candidate === undefined || (group.model === "2N" && candidate.role !== "standby")) return group;
  tx.emit({ kind: "campaign", group: group.name, member: candidate.name });
  return withCluster(tx, group, { campaigning: true });
}

// A switchover to another node (cross-switchover.ts), once this node's member acknowledged
// standby: the key is given up (marked as yielded, so the other nodes do not count a failure)
// and the yield window starts, during which reconcile does not campaign (a switchover is under way).
// The window, in TTLs: the other node needs one watch event and one campaign (ms, not TTLs).
export const YIELD_TTLS = 2;
const DEFAULT_TTL_MS = 2_000;
export const yieldMs = (tx: Pick<Tx, "meta">): number => YIELD_TTLS * (tx.meta.leaseTtlMs ?? DEFAULT_TTL_MS);

export function yieldElection(tx: Tx, group: GroupState): void {
  const switching = group.switchover;
  const facts = group.cluster;
  if (switching === null || facts === undefined) return;
  const until = tx.at.mono + yieldMs(tx);
  tx.log(LOG_LEVEL.events, "info", { event: "yield", group: group.name, token: facts.token, ms: yieldMs(tx) },
    `${group.name}: ${switching.from} is standby; this node gives up its election for ${yieldMs(tx)} ms (switchover to ${switching.to})`);
  tx.putGroup({ ...group, switchover: { ...switching, across: { until } }, cluster: { ...facts, token: null } });
  // In the shared state before the key can go: a HAM that takes over knows this node yielded.
  tx.emit({ kind: "persist-now" });
  // A node past its lease deadline holds nothing to give up: the window runs all the same.
  if (facts.token !== null) tx.emit({ kind: "resign", group: group.name, token: facts.token, yielded: true });
  tx.emit({ kind: "arm", id: yieldTimer(group.name), at: until });
}

// A member whose failure abandons the switchover under way (roles.ts); not once its node gave up
// its election for another node's member: that one is taking over.
export function involves(group: GroupState, name: string): boolean {
  const switching = group.switchover;
  return switching !== null && (switching.across?.until ?? null) === null && (switching.from === name || switching.to === name);
}
