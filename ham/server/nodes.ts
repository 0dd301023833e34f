import { HamError } from "../../lib/errors.js";
import type { Membership, NodeRow } from "../cluster/membership.js";

// What a HAM says of its cluster: `hamctl nodes` and `cluster` in `hamctl status`.

export interface ClusterView {
  readonly name: string;
  readonly node: string;
  readonly leaseId: string;
  readonly etcd: "ok" | "unreachable";
  readonly nodes: readonly NodeRow[];
}

export function clusterView(membership: Membership | null): ClusterView | null {
  if (membership === null) return null;
  return {
    name: membership.options.cluster, node: membership.options.node, leaseId: membership.lease,
    etcd: membership.etcdOk ? "ok" : "unreachable", nodes: membership.rows(),
  };
}

export function nodeRows(membership: Membership | null): readonly NodeRow[] {
  if (membership === null) throw new HamError("EINVAL", "not in a cluster (ham --node NAME --etcd URL)");
  return membership.rows();
}
