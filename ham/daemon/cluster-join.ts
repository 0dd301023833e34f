import { readFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { pathToFileURL } from "node:url";
import { distFile } from "../adapters/dist-files.js";
import { LOG_LEVEL, type ActivityLog } from "../adapters/activity-log.js";
import type { Clock } from "../adapters/clock.js";
import type { Membership, MembershipHooks } from "../cluster/membership.js";
import type { RemoteCall, RemoteAnswer, RemoteCalls } from "../cluster/remote-calls.js";
import type * as EtcdAdapter from "../cluster/etcd.js";
import type { HamOptions } from "./ham-options.js";
import { DEFAULTS } from "./defaults.js";

// Joining the cluster (ham/cluster/): etcd3 (and gRPC) are loaded here, and only here, only with --etcd.

// The etcd adapter by its file, not a literal import: the Guardian's bundle would otherwise take
// it in, and with it a static import of etcd3 (~225 ms and 30 MB at every Guardian's start).
// Seen from dist/ham/daemon/ or from the bundle in dist/guardian/.
// The adapter bundled with etcd3 and gRPC (guardian/make-bundle.mjs: half the CPU to load), else its module.
const ETCD_ADAPTER = pathToFileURL(distFile(import.meta.url, ["../cluster/etcd.bundle.mjs", "../ham/cluster/etcd.bundle.mjs", "../cluster/etcd.js", "../ham/cluster/etcd.js"])).href;

// What a node key says of the hamd that holds it (the package's root, from either place).
export function hamdVersion(): string {
  try {
    const file = distFile(import.meta.url, ["../../../package.json", "../../package.json"]);
    return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

// Where the node is, for the people reading `hamctl nodes`: its host name and first address that
// is not loopback. hamd itself listens on no port (remote calls go through etcd).
function machineAddress(): string {
  const ip = Object.values(networkInterfaces()).flat().find((found) => found !== undefined && !found.internal && found.family === "IPv4");
  return ip === undefined ? hostname() : `${hostname()} (${ip.address})`;
}

export interface Joined {
  readonly membership: Membership;
  // Calls from and to the other nodes' HAMs (cluster/remote-calls.ts).
  readonly remote: RemoteCalls;
}

// The membership's facts for the core (core/nodes/, core/groups/cluster-groups.ts: the daemon's
// cluster-roles.ts dispatches them as events) and for leased roles. `knownUp`: the nodes the
// shared state knew up, so a join after a takeover tells the core those gone meanwhile.
export type NodeHooks = Pick<MembershipHooks, "leaseState" | "renewed" | "nodeUp" | "nodeDown" | "knownUp">;

// Joins (or, after a takeover, rejoins on `keptLease`); null outside a cluster. `leaseChanged`
// is told the membership whenever its lease changes (from the join on: the lease id goes into the
// shared state before the join answers). `serve` runs another node's call on this HAM.
export async function joinCluster(cluster: HamOptions["cluster"], keptLease: string | null, log: ActivityLog, clock: Clock,
  leaseChanged: (membership: Membership) => void, serve: (origin: string, call: RemoteCall) => Promise<RemoteAnswer>,
  coreHooks: NodeHooks = {}): Promise<Joined | null> {
  if (cluster === null) return null;
  const [{ connectEtcd }, { Membership, NodeHeld }, { RemoteCalls }] = await loadClusterCode();
  const etcd = connectEtcd(cluster);
  let remote: RemoteCalls | null = null;
  const membership: Membership = new Membership(etcd, {
    cluster: cluster.name, node: cluster.node, ttlS: cluster.leaseTtlS, marginMs: DEFAULTS.leaseMarginMs, version: hamdVersion(), address: machineAddress(), startedMs: clock.wall(),
  }, {
    log: (event, fields, message) => log.write(LOG_LEVEL.events, event === "lease-expiring" || event === "node-down" || event === "etcd-unreachable" ? "warn" : "info",
      { event, ...fields }, message),
    leaseChanged: () => leaseChanged(membership),
    ...coreHooks,
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
    nodeDown: (node) => {
      remote?.nodeDown(node);
      coreHooks.nodeDown?.(node);
    },
  });
  remote = new RemoteCalls(etcd, cluster.name, cluster.node, {
    lease: () => membership.lease,
    nodeState: (node) => membership.nodeState(node),
    serve,
    warn: (message) => log.write(LOG_LEVEL.events, "warn", { event: "remote-call-failed" }, message),
  });
  try {
    await membership.join(keptLease);
    await remote.start();
  } catch (error) {
    remote.stop();
    membership.stop();
    if (error instanceof NodeHeld) throw error;
    throw new Error(`etcd at ${cluster.etcd.join(",")}: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
  }
  log.write(LOG_LEVEL.events, "info", { event: "joined", cluster: cluster.name, node: cluster.node, lease: membership.lease, kept: membership.lease === keptLease },
    `node ${cluster.node} in cluster ${cluster.name} on lease ${membership.lease}${membership.lease === keptLease ? " (kept from the HAM before)" : ""}`);
  return { membership, remote };
}

// A clustered Guardian loads the cluster's code once it follows the state, so that its takeover
// does not wait for it: etcd3 and gRPC cost a new HAM 170–220 ms of CPU from their bundle
// (330–380 from their modules), and more than a second in the cluster lab.
export function preloadCluster(cluster: HamOptions["cluster"]): void {
  if (cluster === null) return;
  loadClusterCode().catch(() => undefined);
}

// The cluster's modules, imported once (a failed import is tried again by the next caller).
type ClusterCode = [typeof EtcdAdapter, typeof import("../cluster/membership.js"), typeof import("../cluster/remote-calls.js")];
let clusterCode: Promise<ClusterCode> | null = null;
export function loadClusterCode(): Promise<ClusterCode> {
  clusterCode ??= Promise.all([import(ETCD_ADAPTER) as Promise<typeof EtcdAdapter>, import("../cluster/membership.js"), import("../cluster/remote-calls.js")]);
  clusterCode.catch(() => {
    clusterCode = null;
  });
  return clusterCode;
}
