import { HamError } from "../../lib/errors.js";
import type { Membership, NodeRow } from "../cluster/membership.js";
import type { GroupState } from "../core/groups/group-state.js";
import { nodeOfMember } from "../core/groups/cross-switchover.js";

// What a HAM says of its cluster: `hamctl nodes`, `cluster` in `hamctl status`, /ham/.nodes.

export interface ClusterView {
  readonly name: string;
  readonly node: string;
  readonly leaseId: string;
  readonly etcd: "ok" | "unreachable";
  readonly nodes: readonly NodeRow[];
}

// The cross-node group members each node hosts, as this HAM's groups declare them.
function hostsByNode(groups: Iterable<GroupState>): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  for (const group of groups) {
    if (group.cluster === undefined) continue;
    for (const member of group.cluster.members) {
      const node = nodeOfMember(member);
      const active = group.cluster.holder === node ? " (active)" : "";
      const list = hosts.get(node) ?? [];
      list.push(`${group.name}/${member.slice(0, -node.length - 1)}${active}`);
      hosts.set(node, list);
    }
  }
  for (const list of hosts.values()) list.sort();
  return hosts;
}

// The membership's rows with what each node hosts.
export function nodeRowsOf(membership: Membership, groups: Iterable<GroupState>): NodeRow[] {
  const hosts = hostsByNode(groups);
  return membership.rows().map((row) => ({ ...row, hosts: hosts.get(row.name) ?? [] }));
}

export function clusterView(membership: Membership | null, groups: Iterable<GroupState>): ClusterView | null {
  if (membership === null) return null;
  return {
    name: membership.options.cluster, node: membership.options.node, leaseId: membership.lease,
    etcd: membership.etcdOk ? "ok" : "unreachable", nodes: nodeRowsOf(membership, groups),
  };
}

export function nodeRows(membership: Membership | null, groups: Iterable<GroupState>): readonly NodeRow[] {
  if (membership === null) throw new HamError("EINVAL", "not in a cluster (ham --node NAME --etcd URL)");
  return nodeRowsOf(membership, groups);
}
