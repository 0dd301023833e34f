// One node of a cluster as the HAM answers `nodes` and `status` (ham/cluster/membership.ts makes
// it, hamctl prints it: lib/hamctl/nodes-table.ts).
export interface NodeRow {
  readonly name: string;
  readonly pid: number | null;
  // Its machine: host name and first non-loopback IPv4 (from its node key; null: it publishes none).
  // Shown only: hamd listens on no port, remote calls go through etcd.
  readonly address: string | null;
  readonly state: "up" | "down" | "expiring";
  // Self only: ms until this node's own deadline (negative: past it).
  readonly leaseLeftMs: number | null;
  readonly sinceMs: number;
  readonly self: boolean;
  // The members of cross-node groups declared on this node, as GROUP/NAME, "(active)" after the
  // one whose node holds the group's election (from this HAM's groups: a group this HAM does not
  // declare is not listed).
  readonly hosts: readonly string[];
}
