import { LOG_LEVEL } from "../describe.js";
import type { Tx } from "../tx.js";
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

