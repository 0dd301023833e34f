import type { NodeRow } from "../../lib/wire/node-row.js";
import type { DirEntry, Node } from "../../lib/tree/node.js";
import { HamError } from "../../lib/errors.js";
import { formatStamp, lines } from "./render.js";

// /ham/.nodes/<name>/.info (issue 17): the cluster's nodes as `hamctl nodes` shows them (name,
// pid, state, lease left, since, hosts), from the same rows (cluster/membership.ts). Only in a cluster.

export const NODES_DIR = ".nodes";
const INFO = ".info";

export function renderNodeInfo(row: NodeRow): string {
  return lines(10, [
    ["Node", row.self ? `${row.name} (self)` : row.name],
    ["Node Pid", row.pid === null ? "-" : row.pid],
    ["Address", row.address ?? "-"],
    ["State", row.state],
    // Self only: ms until this node's own lease deadline (negative: past it).
    ["Lease Left", row.leaseLeftMs === null ? "-" : `${row.leaseLeftMs} ms`],
    ["Since", formatStamp(row.sinceMs)],
    ["Entity", `@${row.name}`],
    ["Hosts", row.hosts.length === 0 ? "-" : row.hosts.join(", ")],
  ]);
}

const entry = (name: string, content: string): DirEntry => ({ name, type: "file", size: Buffer.byteLength(content) });

// `parts`: the path after .nodes.
export function resolveNodePath(rows: readonly NodeRow[], parts: readonly string[], missing: () => HamError): Node {
  const [name, file, extra] = parts;
  if (name === undefined) return { type: "dir", entries: rows.map((row) => ({ name: row.name, type: "dir", size: 0 })) };
  const row = rows.find((candidate) => candidate.name === name);
  if (row === undefined || extra !== undefined) throw missing();
  const content = renderNodeInfo(row);
  if (file === undefined) return { type: "dir", entries: [entry(INFO, content)] };
  if (file !== INFO) throw missing();
  return { type: "file", content };
}
