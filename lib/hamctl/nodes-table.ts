import type { NodeRow } from "../wire/node-row.js";
// `hamctl nodes` and the cluster line of `hamctl status`.


export interface ClusterSummary {
  readonly name: string;
  readonly node: string;
  readonly leaseId: string;
  readonly etcd: string;
  readonly nodes: readonly NodeRow[];
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function nodesTable(rows: readonly NodeRow[], nowMs: number): string {
  const table = [["NAME", "PID", "STATE", "LEASE LEFT", "SINCE", "HOSTS"], ...rows.map((row) => [
    row.self ? `${row.name} (self)` : row.name, row.pid === null ? "-" : String(row.pid), row.state,
    row.leaseLeftMs === null ? "-" : `${row.leaseLeftMs} ms`, ago(nowMs - row.sinceMs),
    // A HAM older than the column sends no hosts.
    (row.hosts ?? []).length === 0 ? "-" : (row.hosts ?? []).join(", "),
  ])];
  const widths = table[0]?.map((_, column) => Math.max(...table.map((line) => (line[column] ?? "").length))) ?? [];
  return table.map((line) => line.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

export function clusterSummary(cluster: ClusterSummary | null): string {
  if (cluster === null) return "-";
  const up = cluster.nodes.filter((node) => node.state !== "down").length;
  return `${cluster.name}, node ${cluster.node}, lease ${cluster.leaseId}, etcd ${cluster.etcd}, ${up}/${cluster.nodes.length} nodes up`;
}
