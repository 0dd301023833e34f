import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDirOf } from "../lib/run-dir.js";
import { isSameProcessAlive, readStartTime } from "../lib/proc.js";
import { EtcdCluster } from "./etcd-cluster.js";
import { EtcdProxy } from "./etcd-proxy.js";
import { HAM_BIN, System } from "./system.js";

// A cluster on one machine for the lab, the tests, the bench and the example: a real 3-member
// etcd on loopback and N hamd nodes (`--node nI`), each in its own run directory, each with its
// own config file, each reaching etcd through its own proxy (etcd-proxy.ts) so it can be cut
// off. And the node faults, every one by pid (found from the run directory, never by name):
// death (SIGKILL of the HAM, the Guardian and every process of the node), hang (SIGSTOP of the
// HAM and the Guardian; the members run on) and resume, cut-off and restore, an etcd member's
// death and restart, quorum lost and back.

export interface NodeSpec {
  // The node's config (written to its run directory as lab-config.json).
  readonly config: (node: string, runDir: string) => Record<string, unknown>;
  // More `ham` options (for example ["--no-mount"]).
  readonly hamArgs?: readonly string[];
  // Called before each start of the node's HAM (the lab listens for its members here).
  readonly prepare?: (node: ClusterNode) => Promise<void>;
}

export interface ClusterOptions {
  readonly nodes: number;
  readonly ttlS?: number;
  // Each node behind its own cut-able proxy (true), or straight to etcd.
  readonly proxies?: boolean;
  readonly spec: NodeSpec;
  // Where the run directories go (made and removed by the cluster when not given).
  readonly root?: string;
}

export interface ClusterNode {
  readonly name: string;
  readonly runDir: string;
  readonly configPath: string;
  readonly system: System;
  readonly proxy: EtcdProxy | null;
  // What the lab did to it last: up, dead (killed, not restarted), hung, cut.
  state: "up" | "dead" | "hung" | "cut";
  // The HAM and Guardian stopped by hang(), to resume.
  stopped: Array<{ pid: number; startTime: number | null }>;
}

export class ClusterNodes {
  readonly nodes: ClusterNode[] = [];
  private readonly ownRoot: boolean;

  private constructor(readonly etcd: EtcdCluster, readonly root: string, readonly options: ClusterOptions) {
    this.ownRoot = options.root === undefined;
  }

  static async start(options: ClusterOptions): Promise<ClusterNodes> {
    const etcd = await EtcdCluster.start(3);
    const root = options.root ?? mkdtempSync(join("/tmp", "hamd-cluster-"));
    const cluster = new ClusterNodes(etcd, root, options);
    try {
      for (let index = 1; index <= options.nodes; index += 1) {
        const name = `n${index}`;
        const runDir = mkdtempSync(join(root, `${name}-`));
        const proxy = options.proxies === false ? null : await EtcdProxy.start(etcd.endpoints);
        cluster.nodes.push({ name, runDir, configPath: join(runDir, "lab-config.json"), system: new System(runDir), proxy, state: "dead", stopped: [] });
      }
      await Promise.all(cluster.nodes.map((node) => cluster.startNode(node)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get ttlS(): number {
    return this.options.ttlS ?? 2;
  }

  node(name: string): ClusterNode {
    const node = this.nodes.find((item) => item.name === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  // The etcd URLs the node's HAM is given: its proxy's, or etcd's own.
  etcdOf(node: ClusterNode): string[] {
    return node.proxy?.endpoints ?? this.etcd.endpoints;
  }

  // Starts the node's HAM as a user does (`ham` returns once it serves with a Guardian ready),
  // asynchronously: the proxies live in this process and must forward meanwhile. `fresh`: a
  // rebooted machine (its shared state in /dev/shm is gone). A HAM refused because the node's
  // old lease still holds its key is started again until `timeoutMs` passes.
  async startNode(node: ClusterNode, { fresh = false, timeoutMs = 15_000 } = {}): Promise<void> {
    await this.options.spec.prepare?.(node);
    writeFileSync(node.configPath, `${JSON.stringify(this.options.spec.config(node.name, node.runDir), null, 2)}\n`);
    const args = ["--run-dir", node.runDir, "--config", node.configPath, "--node", node.name, "--etcd", this.etcdOf(node).join(","),
      "--lease-ttl", String(this.ttlS), "-t", "absolute", ...(fresh ? ["--fresh"] : []), ...(this.options.spec.hamArgs ?? [])];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { code, stderr } = await runHam(args);
      if (code === 0) break;
      if (!/already held/.test(stderr) || performance.now() > deadline) throw new Error(`ham of node ${node.name} did not start (exit ${code}): ${stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    node.state = "up";
  }

  // Node death: SIGKILL of every process of the node (its HAM, Guardian, members, clients),
  // found by the run directory in their environment or command line, three rounds (a process
  // may fork as it dies). The pids killed.
  killNode(node: ClusterNode): number[] {
    node.proxy?.restore();
    const killed = new Set<number>();
    for (let round = 0; round < 3; round += 1) {
      for (const pid of node.system.everyProcess()) {
        try {
          process.kill(pid, "SIGKILL");
          killed.add(pid);
        } catch {
          // gone already
        }
      }
    }
    node.state = "dead";
    node.stopped = [];
    return [...killed];
  }

  // Node hang: SIGSTOP of the HAM and its Guardian (their members run on). The pids stopped.
  hangNode(node: ClusterNode): number[] {
    const ham = node.system.hamPid();
    const guardian = node.system.guardianOf(ham);
    node.stopped = [];
    for (const pid of [ham, guardian]) {
      const startTime = pid > 0 ? readStartTime(pid) : null;
      if (pid > 0 && startTime !== null && signal(pid, startTime, "SIGSTOP")) node.stopped.push({ pid, startTime });
    }
    if (node.stopped.length > 0) node.state = "hung";
    return node.stopped.map((item) => item.pid);
  }

  // SIGCONT, the HAM first (a Guardian resumed first would find its pings unanswered).
  resumeNode(node: ClusterNode): void {
    for (const item of node.stopped) signal(item.pid, item.startTime, "SIGCONT");
    node.stopped = [];
    if (node.state === "hung") node.state = "up";
  }

  cutNode(node: ClusterNode): void {
    if (node.proxy === null) throw new Error("this cluster runs without proxies: no node can be cut off");
    node.proxy.cut();
    node.state = "cut";
  }

  restoreNode(node: ClusterNode): void {
    node.proxy?.restore();
    if (node.state === "cut") node.state = "up";
  }

  // An etcd member's death (SIGKILL by its pid; it keeps its data) and its restart.
  killEtcdMember(index: number): void {
    this.etcd.kill(index);
  }

  async restartEtcdMember(index: number): Promise<void> {
    this.etcd.restart(index);
    await this.etcd.healthy(15_000);
  }

  // Quorum lost: two of the three members killed. The indexes killed.
  loseQuorum(first: number): number[] {
    const killed = [first % 3, (first + 1) % 3];
    for (const index of killed) this.etcd.kill(index);
    return killed;
  }

  async regainQuorum(killed: readonly number[]): Promise<void> {
    for (const index of killed) this.etcd.restart(index);
    await this.etcd.healthy(15_000);
  }

  // Ends everything: each node's processes by pid (hung ones resumed first, so they die at
  // once), the proxies, etcd; removes the shared states and the run directories.
  // `keepLogs`: each node's activity log is copied to the root first (ROOT/nI.log).
  async stop(keepLogs = false): Promise<void> {
    for (const node of this.nodes) {
      this.resumeNode(node);
      this.killNode(node);
      node.system.closeProbe();
      node.system.unmountAll();
      node.proxy?.close();
      if (keepLogs) {
        try {
          copyFileSync(join(node.runDir, "ham.log"), join(this.root, `${node.name}.log`));
        } catch {
          // no log yet
        }
      }
      rmSync(stateDirOf(node.runDir), { recursive: true, force: true });
      rmSync(node.runDir, { recursive: true, force: true });
    }
    this.etcd.stop();
    if (this.ownRoot) rmSync(this.root, { recursive: true, force: true });
  }
}

function signal(pid: number, startTime: number | null, name: NodeJS.Signals): boolean {
  if (!isSameProcessAlive(pid, startTime)) return false;
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

function runHam(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(HAM_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => resolve({ code: -1, stderr: error.message }));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}
