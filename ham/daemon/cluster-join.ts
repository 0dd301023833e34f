import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { distFile } from "../adapters/dist-files.js";
import { LOG_LEVEL, type ActivityLog } from "../adapters/activity-log.js";
import type { Clock } from "../adapters/clock.js";
import type { Membership, MembershipHooks } from "../cluster/membership.js";
import type * as EtcdAdapter from "../cluster/etcd.js";
import type { HamOptions } from "./ham-options.js";
import { DEFAULTS } from "./defaults.js";

// Joining the cluster (ham/cluster/): etcd3 (and gRPC) are loaded here, and only here, only with --etcd.

// The etcd adapter by its file, not a literal import: the Guardian's bundle would otherwise take
// it in, and with it a static import of etcd3 (~225 ms and 30 MB at every Guardian's start).
// Seen from dist/ham/daemon/ or from the bundle in dist/guardian/.
const ETCD_ADAPTER = pathToFileURL(distFile(import.meta.url, ["../cluster/etcd.js", "../ham/cluster/etcd.js"])).href;

// What a node key says of the hamd that holds it (the package's root, from either place).
function hamdVersion(): string {
  try {
    const file = distFile(import.meta.url, ["../../../package.json", "../../package.json"]);
    return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

// Joins (or, after a takeover, rejoins on `keptLease`); null outside a cluster. `leaseChanged`
// is told the membership whenever its lease changes (from the join on: the lease id goes into the
// shared state before the join answers).
export async function joinCluster(cluster: HamOptions["cluster"], keptLease: string | null, log: ActivityLog, clock: Clock,
  leaseChanged: (membership: Membership) => void, leaseHooks: Pick<MembershipHooks, "leaseState" | "renewed" | "nodeUp" | "nodeDown"> = {}): Promise<Membership | null> {
  if (cluster === null) return null;
  const [{ connectEtcd }, { Membership, NodeHeld }] = await Promise.all([import(ETCD_ADAPTER) as Promise<typeof EtcdAdapter>, import("../cluster/membership.js")]);
  const membership: Membership = new Membership(connectEtcd(cluster), {
    cluster: cluster.name, node: cluster.node, ttlS: cluster.leaseTtlS, marginMs: DEFAULTS.leaseMarginMs, version: hamdVersion(), startedMs: clock.wall(),
  }, {
    log: (event, fields, message) => log.write(LOG_LEVEL.events, event === "lease-expiring" || event === "node-down" || event === "etcd-unreachable" ? "warn" : "info",
      { event, ...fields }, message),
    leaseChanged: () => leaseChanged(membership),
    ...leaseHooks,
    now: () => performance.now(),
    wall: () => clock.wall(),
    every: (ms, run) => {
      const timer = setInterval(run, ms);
      return () => clearInterval(timer);
    },
    after: (ms, run) => {
      const timer = setTimeout(run, ms);
      return () => clearTimeout(timer);
    },
  });
  try {
    await membership.join(keptLease);
  } catch (error) {
    membership.stop();
    if (error instanceof NodeHeld) throw error;
    throw new Error(`etcd at ${cluster.etcd.join(",")}: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
  }
  log.write(LOG_LEVEL.events, "info", { event: "joined", cluster: cluster.name, node: cluster.node, lease: membership.lease, kept: membership.lease === keptLease },
    `node ${cluster.node} in cluster ${cluster.name} on lease ${membership.lease}${membership.lease === keptLease ? " (kept from the HAM before)" : ""}`);
  return membership;
}
