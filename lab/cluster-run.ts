import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ClusterNode, ClusterNodes } from "./cluster-nodes.js";
import { Mutator, startBeater } from "./clients.js";
import { GroupWatch, serving, type Judge } from "./group-watch.js";
import { defaultLoad, MEMBER_SCRIPT, type Load } from "./load.js";
import type { Random } from "./random.js";
import { Run, sleep, type RunOptions, type Violation } from "./run.js";

// One run of the cluster lab (`ham-lab --nodes N`): the cluster (cluster-nodes.ts), each node's
// lab as today (a Run with its own load, local group watch, clients: an incarnation, made again
// when the node comes back from its death), and the cross-node group `xgroup` judged from its
// members' reports across nodes.

export const CROSS_GROUP = "xgroup";
export const CROSS_ENTITY = "xg";
// The nodes that host a member of the cross-node group.
export const CROSS_NODES = ["n1", "n2"];

export interface ClusterRunOptions extends RunOptions {
  readonly entities: number;
  readonly clients: number;
  readonly crossGroup: boolean;
}

// One life of a node under the lab: what today's lab checks on a single HAM.
export interface Incarnation {
  readonly run: Run;
  readonly group: GroupWatch | null;
}

export class ClusterRun implements Judge {
  readonly started = performance.now();
  step = 0;
  checks = 0;
  quietMoments = 0;
  readonly faults = new Map<string, number>();
  readonly violations: Violation[] = [];
  // Violations of nodes' earlier lives (their Runs are replaced at a restart).
  readonly pastNodeViolations: Violation[] = [];
  readonly incarnations = new Map<string, Incarnation>();
  readonly lives = new Map<string, number>();
  // The cluster fault under way (one at a time), and the node it keeps from other faults.
  pending: Promise<void> | null = null;
  busy: string | null = null;
  readonly watching = new Set<Promise<void>>();
  cross: GroupWatch | null = null;
  // Node losses of the cross group's active (node death, long hang, long cut): the time to an
  // active again is judged against TTL + 1 s; and the time the group had no active across an
  // etcd fault.
  nodeLosses = 0;
  onViolation: (violation: Violation) => void = () => undefined;

  private clusterRef: ClusterNodes | null = null;
  // The load each node's HAM starts with next (made by prepare(), read by its config).
  private readonly loads = new Map<string, Load>();
  private readonly groups = new Map<string, GroupWatch | null>();

  constructor(readonly options: ClusterRunOptions, readonly root: string, readonly random: Random) {}

  get cluster(): ClusterNodes {
    if (this.clusterRef === null) throw new Error("the cluster is not started");
    return this.clusterRef;
  }

  set cluster(cluster: ClusterNodes) {
    this.clusterRef = cluster;
  }

  // Before a node's HAM starts: its load, and its group watch listening (its members report
  // from their first moment). The previous life's watch is closed.
  async prepare(node: ClusterNode): Promise<void> {
    const load = this.loadFor(node.name, node.runDir);
    this.loads.set(node.name, load);
    // The `staged` entity's marks of a life before (a rebooted machine's new count).
    rmSync(join(node.runDir, "staged.marks"), { force: true });
    this.groups.get(node.name)?.close();
    const group = load.group === null ? null : new GroupWatch(join(node.runDir, "lab.sock"), load.group.name, load.group.members);
    await group?.listen();
    this.groups.set(node.name, group);
  }

  configFor(node: string): Record<string, unknown> {
    return this.loads.get(node)?.config ?? {};
  }

  // A node killed comes back as a rebooted machine would (fresh state), with a new life.
  async revive(node: ClusterNode): Promise<void> {
    await this.cluster.startNode(node, { fresh: true, timeoutMs: 20_000 });
    await this.incarnate(node);
  }

  closeWatches(): void {
    for (const group of this.groups.values()) group?.close();
    this.cross?.close();
  }

  now(): number {
    return performance.now() - this.started;
  }

  violate(invariant: string, detail: string): void {
    const violation = { step: this.step, atMs: this.now(), invariant, detail };
    this.violations.push(violation);
    this.onViolation(violation);
  }

  count(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  watch(measuring: Promise<void>): void {
    this.watching.add(measuring);
    void measuring.finally(() => this.watching.delete(measuring));
  }

  // The HAM faults of every node may hold a cross-node failover up (the standby's HAM taking over).
  hamFaultAllowance(from: number, to: number): number {
    let allowance = 0;
    for (const { run } of this.incarnations.values()) allowance += run.hamFaultAllowance(from, to);
    return allowance;
  }

  // Every violation: the cluster's, and every node life's (each says which node).
  allViolations(): Violation[] {
    const nodes = [...this.incarnations.values()].flatMap(({ run }) => run.violations);
    return [...this.violations, ...this.pastNodeViolations, ...nodes].sort((a, b) => a.atMs - b.atMs);
  }

  // The node's config: today's default load (its own group and lab socket in its run directory),
  // and on n1 and n2 the cross-node group's member `xg`, reporting to the lab's cluster socket.
  loadFor(node: string, runDir: string): Load {
    const load = defaultLoad(this.options.entities, join(runDir, "staged.marks"), join(runDir, "lab.sock"));
    if (!this.options.crossGroup || !CROSS_NODES.includes(node)) return load;
    const member = {
      name: CROSS_ENTITY, command: `${process.execPath} ${MEMBER_SCRIPT} ${this.crossSocket} ${node} ${CROSS_GROUP}`, policy: { minUptimeMs: 0 },
      conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
    };
    const config = load.config as { entities: unknown[]; groups: unknown[] };
    return { ...load, config: { ...config, entities: [...config.entities, member],
      groups: [...config.groups, { name: CROSS_GROUP, model: "2N", members: CROSS_NODES.map((name) => `${CROSS_ENTITY}@${name}`) }] } };
  }

  get crossSocket(): string {
    return join(this.root, "cross.sock");
  }

  // A node's new life, once its HAM runs: its Run, its clients, its group watch (listening
  // already: made by `prepare` before the HAM started).
  async incarnate(node: ClusterNode): Promise<Incarnation> {
    const load = this.loads.get(node.name);
    const group = this.groups.get(node.name) ?? null;
    if (load === undefined) throw new Error(`${node.name} was not prepared`);
    const old = this.incarnations.get(node.name);
    if (old !== undefined) {
      this.pastNodeViolations.push(...old.run.violations);
      for (const beater of old.run.beaters) beater.child.kill("SIGKILL");
      old.run.mutator?.child.kill("SIGKILL");
    }
    const run = new Run({ ...this.options }, node.system, this.random, load, node.configPath, join(node.runDir, "staged.marks"));
    run.group = group;
    group?.attach(run);
    const life = (this.lives.get(node.name) ?? 0) + 1;
    this.lives.set(node.name, life);
    run.onViolation = (violation) => this.onViolation({ ...violation, step: this.step });
    const onViolation = run.violate.bind(run);
    run.violate = (invariant, detail) => onViolation(invariant, `${node.name}${life > 1 ? ` (life ${life})` : ""}: ${detail}`);
    run.beaters = Array.from({ length: this.options.clients }, (_, index) => startBeater(`client-${index + 1}`, node.runDir));
    run.mutator = new Mutator(node.runDir, this.options.seed + life * 1_000 + Number(node.name.slice(1)), this.cluster.nodes.length);
    const attached = await run.until(() => run.beaters.every((beater) => beater.attached), 20_000, 20);
    if (!attached) throw new Error(`${node.name}: the lab's clients did not attach within 20 s`);
    run.lastFaultEndMs = run.now();
    const incarnation = { run, group };
    this.incarnations.set(node.name, incarnation);
    return incarnation;
  }

  // The nodes up and free for a fault.
  available(): ClusterNode[] {
    return this.cluster.nodes.filter((node) => node.state === "up" && node.name !== this.busy);
  }

  // The cross group's member the lab believes active, and the node it runs on.
  crossActive(): { node: string; pid: number; startTime: number | null; entity: string } | null {
    const member = this.cross?.believedActive() ?? null;
    return member === null ? null : { node: member.entity.split("@")[1] ?? "", pid: member.pid, startTime: member.startTime, entity: member.entity };
  }

  // At a quiet moment: the cross-node group has one live member that says active and one that
  // says standby, within the settling time (a node back from death starts its member anew).
  async checkCrossGroup(): Promise<void> {
    const watch = this.cross;
    if (watch === null) return;
    const settleMs = this.cluster.ttlS * 1_000 + 8_000;
    const say = () => watch.beliefs().map((member) => `${member.entity} pid ${member.pid} said ${member.reports.at(-1)?.role ?? "nothing yet"}`).join(", ");
    const settled = await until(() => {
      const beliefs = watch.beliefs();
      return beliefs.filter((member) => serving(member.reports.at(-1)?.role)).length === 1 &&
        beliefs.filter((member) => member.reports.at(-1)?.role === "standby").length === 1;
    }, settleMs);
    this.checks += 1;
    if (!settled) this.violate("cross group settled", `${CROSS_GROUP}: not one active and one standby ${settleMs} ms after the burst: ${say() || "no live member"}`);
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}
