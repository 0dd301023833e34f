import type { StoreReader } from "../adapters/store.js";
import type { HamOptions } from "./ham-options.js";
import { readMeta } from "./state-version.js";

// A run directory's shared state belongs to the cluster and node that made it: its node entities,
// the nodes it knew up and its lease id are that node's. A HAM started on it as another node, in
// another cluster, or outside any cluster is refused rather than mix two clusters' state (or fire
// a cluster's node conditions from facts of another). A state made outside a cluster may join one.

export class ClusterMismatch extends Error {}

const named = (cluster: { readonly name: string; readonly node: string }) => `node ${cluster.node} of cluster ${cluster.name}`;

export function checkStateCluster(reader: StoreReader, options: Pick<HamOptions, "runDir" | "cluster">): void {
  const made = readMeta(reader.refresh().values.get("m"))?.cluster;
  if (made === undefined) return;
  const now = options.cluster;
  if (now !== null && now.name === made.name && now.node === made.node) return;
  throw new ClusterMismatch(`the state in ${options.runDir} belongs to ${named(made)}, and this start is ${now === null ? "not in a cluster" : named(now)}: `
    + `refused (start it as ${named(made)}, or with --fresh to discard that state)`);
}
