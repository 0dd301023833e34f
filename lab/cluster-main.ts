import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkQuietMoment } from "./checks.js";
import { CLUSTER_FAULT_WEIGHTS, OPT_IN_CLUSTER_FAULTS, type ClusterFaultKind } from "./cluster-fault-kinds.js";
import { CLUSTER_FAULTS } from "./cluster-faults.js";
import { ClusterNodes } from "./cluster-nodes.js";
import { formatClusterReport, makeClusterReport } from "./cluster-report.js";
import { ClusterRun, CROSS_ENTITY, CROSS_GROUP, CROSS_NODES } from "./cluster-run.js";
import { FAULT_WEIGHTS, FAULTS, type FaultKind } from "./faults.js";
import { GroupWatch } from "./group-watch.js";
import { replayArgs, type LabOptions } from "./options.js";
import { Random } from "./random.js";
import { sleep } from "./run.js";

// `ham-lab --nodes N`: the cluster lab. A 3-member etcd and N nodes, each a HAM under today's
// default load behind its own etcd proxy; bursts of faults, each either one of today's on one
// node or one of the cluster's; at each quiet moment every node's own invariants (checks.ts)
// and the cross-node group's. Returns the exit code.

const TTL_S = 2;

export async function runCluster(options: LabOptions): Promise<number> {
  const nodes = options.nodes ?? 3;
  const root = mkdtempSync(join(tmpdir(), "ham-lab-cluster-"));
  const run = new ClusterRun({ seed: options.seed, seconds: options.seconds, steps: options.steps, watchdogMs: options.watchdogMs, mount: false,
    entities: options.entities, clients: options.clients, crossGroup: options.crossGroup }, root, new Random(options.seed));
  if (!options.json) {
    run.onViolation = (violation) => process.stderr.write(`ham-lab: VIOLATION at step ${violation.step} (${(violation.atMs / 1_000).toFixed(1)} s) [${violation.invariant}] ${violation.detail}\n`);
  }
  let cluster: ClusterNodes | null = null;
  const end = async (keepLogs = false) => {
    run.closeWatches();
    await cluster?.stop(keepLogs);
  };
  const stopOnSignal = () => void end().finally(() => {
    rmSync(root, { recursive: true, force: true });
    process.exit(130);
  });
  process.on("SIGINT", stopOnSignal);
  process.on("SIGTERM", stopOnSignal);
  const progress = setInterval(() => {
    if (!options.json) process.stderr.write(`ham-lab: ${(run.now() / 1_000).toFixed(0)} s, step ${run.step}, ${[...run.faults.values()].reduce((a, b) => a + b, 0)} faults, ${run.allViolations().length} violations\n`);
  }, 10_000);
  try {
    if (options.crossGroup) {
      run.cross = new GroupWatch(run.crossSocket, CROSS_GROUP, CROSS_NODES.map((node) => `${CROSS_ENTITY}@${node}`));
      await run.cross.listen();
      run.cross.attach(run);
    }
    cluster = await ClusterNodes.start({ nodes, ttlS: TTL_S, root, proxies: true, spec: {
      config: (node) => run.configFor(node), prepare: (node) => run.prepare(node), hamArgs: ["--no-mount", "--watchdog-ms", String(options.watchdogMs)],
    } });
    run.cluster = cluster;
    for (const node of cluster.nodes) await run.incarnate(node);
    if (!options.json) {
      process.stderr.write(`ham-lab: seed ${options.seed}, ${options.seconds} s, ${nodes} nodes on a 3-member etcd (TTL ${TTL_S} s), each with ${options.entities} restartable entities, ` +
        `${options.clients} clients and its group lab-group${options.crossGroup ? `; ${CROSS_GROUP} across ${CROSS_NODES.join(" and ")}` : ""}; directory ${root}\n`);
    }
    await torture(run, options);
    await Promise.race([Promise.all(run.watching), sleep(30_000)]);
    await quietMoment(run);
  } catch (error) {
    clearInterval(progress);
    process.stderr.write(`ham-lab: ${error instanceof Error ? error.message : String(error)}\n`);
    await end();
    return 1;
  }
  clearInterval(progress);
  const report = makeClusterReport(run, replayArgs(options));
  const failed = report.violations.length > 0;
  // A failed run keeps the nodes' activity logs (as a single HAM's lab run keeps its log).
  await end(failed);
  process.stdout.write(options.json ? `${JSON.stringify({ ...report, runDir: root })}\n` : formatClusterReport(report));
  if (failed) process.stderr.write(`ham-lab: the nodes' activity logs are kept in ${root}/n*.log\n`);
  else rmSync(root, { recursive: true, force: true });
  return failed ? 1 : 0;
}

// Bursts of 3 to 8 faults, 50 ms to 1 s apart, then a quiet moment.
async function torture(run: ClusterRun, options: LabOptions): Promise<void> {
  const endMs = options.seconds * 1_000;
  const all: Record<string, number> = { ...FAULT_WEIGHTS, ...CLUSTER_FAULT_WEIGHTS };
  const weights = Object.fromEntries(Object.entries(all).filter(([kind]) => options.faults?.includes(kind) ?? true));
  if (!options.crossGroup) delete weights["kill-cross-active"];
  if (!options.crossGroup) delete weights["switchover-cross"];
  for (const kind of OPT_IN_CLUSTER_FAULTS) if (options.faults === null) delete weights[kind];
  const stopAt = () => run.now() >= endMs || (options.steps !== null && run.step >= options.steps);
  while (!stopAt()) {
    const burst = run.random.int(3, 8);
    for (let index = 0; index < burst && !stopAt(); index += 1) {
      await sleep(run.random.between(50, 1_000));
      const kind = run.random.weighted(weights);
      // Drawn on every step (whatever the kind), so the schedule stays a function of the seed.
      const nodeRoll = run.random.next();
      run.step += 1;
      for (const life of run.incarnations.values()) life.run.step = run.step;
      if (Object.hasOwn(CLUSTER_FAULT_WEIGHTS, kind)) {
        const did = await CLUSTER_FAULTS[kind as ClusterFaultKind](run);
        if (did !== null) run.count(kind);
        debug(run, kind, did);
        continue;
      }
      const nodes = run.available();
      const node = nodes[Math.floor(nodeRoll * nodes.length)];
      const life = node === undefined ? undefined : run.incarnations.get(node.name);
      if (life === undefined) continue;
      const did = await FAULTS[kind as FaultKind](life.run);
      if (did !== null) {
        run.count(kind);
        life.run.count(kind);
      }
      debug(run, kind, did === null ? null : `${node?.name}: ${did}`);
      life.run.lastFaultEndMs = life.run.now();
    }
    await quietMoment(run);
  }
}

// The cluster fault under way ends first; then every node's own invariants, and the cross group.
async function quietMoment(run: ClusterRun): Promise<void> {
  run.quietMoments += 1;
  if (run.pending !== null) await Promise.race([run.pending, sleep(40_000)]);
  for (const node of run.cluster.nodes) {
    const life = run.incarnations.get(node.name);
    if (node.state === "up" && life !== undefined && !life.run.lost) await checkQuietMoment(life.run);
  }
  await run.checkCrossGroup();
}

// LAB_DEBUG=1: each fault as it is injected.
function debug(run: ClusterRun, kind: string, did: string | null): void {
  if (process.env["LAB_DEBUG"] !== undefined) process.stderr.write(`ham-lab: step ${run.step} at ${(run.now() / 1_000).toFixed(1)} s: ${kind} ${did ?? "(nothing to act on)"}\n`);
}
