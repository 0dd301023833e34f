import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { NO_FUSE, REQUIRE_FUSE, requiredLine, skipLine } from "../helpers/fuse.js";
import { cleanup, currentHamPid, eventually, HAM_BIN, isAlive, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";
import { guardianReady, status } from "../helpers/takeover.js";
import * as ham from "../../dist/lib/index.js";

// Node entities (@NAME) on a real 3-member etcd with real HAM nodes: CONDATTACH when a node joins,
// CONDDEATH once when its lease is gone, even when that happens while the watching HAM is dead;
// /ham/.nodes/<name>/.info through a real FUSE mount; the config file's cluster section; a state
// of another cluster or node refused.

interface ClusterStatus { hamPid: number; cluster: { name: string; node: string; nodes: Array<{ name: string; state: string; pid: number | null; address: string | null }> } | null }

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

describeWithEtcd("node entities: CONDATTACH and CONDDEATH on @NODE", () => {
  let etcd: EtcdCluster;
  let watcher: Etcd3;
  let n1: HamInstance;
  let n2: HamInstance;
  const deleted: string[] = [];
  const scratch = tempDir("nodes");
  const marks = join(scratch, "marks");
  const config = join(scratch, "n1.yaml");

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
    watcher = new Etcd3({ hosts: etcd.endpoints });
    const watch = await watcher.watch().prefix("/hamd/t/nodes/").create();
    watch.on("delete", (kv) => deleted.push(kv.key.toString()));
    // n1 joins from its config file alone: no cluster flag on its command line. Its lease TTL is
    // 5 s, so that its Guardian can be held stopped a while without n1's lease expiring.
    writeFileSync(config, [
      "cluster:",
      `  { name: t, node: n1, etcd: [${etcd.endpoints.join(", ")}], leaseTtl: 5 }`,
      "nodes:",
      "  - name: n2",
      "    conditions:",
      "      - name: gone",
      "        type: CONDDEATH",
      `        actions: [{ name: mark, kind: execute, line: "/bin/sh -c 'echo down >> ${marks}'" }]`,
      "      - name: back",
      "        type: CONDATTACH",
      `        actions: [{ name: mark, kind: execute, line: "/bin/sh -c 'echo up >> ${marks}'" }]`,
      "",
    ].join("\n"));
    n1 = await startHam(["--config", config, ...(NO_FUSE === null ? ["--mount", "{RUN_DIR}/ham"] : [])]);
  }, 30_000);

  afterAll(async () => {
    await cleanup();
    watcher?.close();
    etcd?.stop();
  });

  it("n1 joins from its config file's cluster section", async () => {
    const own = (await status(n1.runDir)) as unknown as ClusterStatus;
    expect(own.cluster).toMatchObject({ name: "t", node: "n1" });
    expect(await n1.field("/@n2/.info", "Entity type")).toBe("NODE");
  });

  it("the API: a handle to @n3 takes CONDDEATH with an execute action; a restart action is EINVAL", async () => {
    process.env["HAM_RUN_DIR"] = n1.runDir;
    await ham.ham_connect(0);
    try {
      const node = await ham.ham_entity("@n3", 0, 0);
      const gone = await ham.ham_condition(node, ham.CONDDEATH, "gone", 0);
      await ham.ham_action_execute(gone, "mark", "/bin/true", 0);
      await expect(ham.ham_action_restart(gone, "again", "/bin/true", 0)).rejects.toMatchObject({ code: "EINVAL", message: expect.stringMatching(/@n3 is a node entity: a restart action makes no sense/) });
      await expect(ham.ham_condition(node, ham.CONDHBEATMISSEDHIGH, "hb", 0)).rejects.toMatchObject({ code: "EINVAL" });
      await expect(ham.ham_attach("@n4", 0, -1, "/bin/sleep 9", 0)).rejects.toMatchObject({ code: "EINVAL" });
      expect(await n1.field("/@n3/gone/.info", "Condition type")).toMatch(/DEATH/);
    } finally {
      await ham.ham_disconnect(0);
      delete process.env["HAM_RUN_DIR"];
    }
  });

  it("CONDATTACH on @n2 fires when n2 joins", async () => {
    n2 = await startHam(["--node", "n2", "--cluster", "t", "--etcd", etcd.endpoints.join(",")]);
    await eventually(() => lines(marks).join() === "up", 5_000, "n1's CONDATTACH on @n2 to run its execute action");
  });

  it("/ham/.nodes/n2/.info says what hamctl nodes says, through the FUSE mount", async () => {
    const row = await eventually(async () => ((await status(n1.runDir)) as unknown as ClusterStatus).cluster?.nodes.find((node) => node.name === "n2" && node.state === "up"), 5_000, "n2 up");
    const viaSocket = await n1.cat("/.nodes/n2/.info");
    expect(viaSocket).toMatch(new RegExp(`^Node {6}: n2\nNode Pid {2}: ${row.pid}\nAddress {3}: \\S+( \\(\\d+\\.\\d+\\.\\d+\\.\\d+\\))?\nState {5}: up\nLease Left: -\nSince {5}: .+\nEntity {4}: @n2\nHosts {5}: -\n$`));
    expect(await n1.cat("/.nodes/n1/.info")).toMatch(/^Node {6}: n1 \(self\)\n[\s\S]*Lease Left: -?\d+ ms\n/);
    if (NO_FUSE !== null) {
      if (REQUIRE_FUSE) throw new Error(requiredLine(NO_FUSE));
      console.warn(`/ham/.nodes through FUSE: ${skipLine(NO_FUSE)}`);
      return;
    }
    const mounted = join(n1.runDir, "ham");
    await eventually(() => existsSync(join(mounted, ".nodes")), 5_000, "the /ham view mounted");
    expect(readFileSync(join(mounted, ".nodes/n2/.info"), "utf8")).toBe(viaSocket);
  });

  it("n2's death (HAM and Guardian SIGKILLed) while n1's HAM is dead fires CONDDEATH once, after n1's takeover", async () => {
    const one = await guardianReady(n1.runDir);
    const two = await guardianReady(n2.runDir);
    // n1's Guardian held stopped, its HAM killed: no HAM of n1 watches while n2 dies.
    process.kill(one.guardianPid, "SIGSTOP");
    process.kill(one.hamPid, "SIGKILL");
    process.kill(two.guardianPid, "SIGKILL");
    process.kill(two.hamPid, "SIGKILL");
    try {
      await eventually(() => deleted.includes("/hamd/t/nodes/n2"), 6_000, "etcd to delete n2's key");
      expect(lines(marks)).toEqual(["up"]);
    } finally {
      process.kill(one.guardianPid, "SIGCONT");
    }
    await eventually(() => lines(marks).join() === "up,down", 8_000, "n1's new HAM to fire CONDDEATH on @n2");
    // n1's own lease was kept through its takeover (TTL 5 s): the others never saw n1 down.
    expect(deleted).toEqual(["/hamd/t/nodes/n2"]);
    const after = await eventually(async () => (await status(n1.runDir).catch(() => null)) as unknown as ClusterStatus | null, 5_000, "n1's new HAM to answer");
    expect(after.hamPid).not.toBe(one.hamPid);
    expect(after.cluster?.nodes.find((node) => node.name === "n2")?.state).toBe("down");
    // Not twice: a while later (and after another takeover of n1) still one "down".
    await guardianReady(n1.runDir).then((now) => process.kill(now.hamPid, "SIGKILL"));
    await eventually(async () => (await status(n1.runDir).catch(() => null))?.hamPid === currentHamPid(n1.runDir) && currentHamPid(n1.runDir) !== after.hamPid
      && (await guardianReady(n1.runDir)).guardianPid > 0, 10_000, "n1's second takeover");
    expect(lines(marks)).toEqual(["up", "down"]);
    expect(isAlive(two.hamPid)).toBe(false);
  });
});

describeWithEtcd("a cluster's mistakes at start: one line, exit 1", () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await EtcdCluster.start(1);
  }, 30_000);
  afterAll(() => etcd?.stop());
  afterEach(cleanup);

  const ham = (runDir: string, ...args: string[]) => spawnSync(process.execPath, [HAM_BIN, "--run-dir", runDir, "--no-mount", ...args], { encoding: "utf8", timeout: 20_000 });

  it("a state made by node m1 of cluster c is refused to node m2, to cluster d and outside a cluster", async () => {
    const runDir = tempDir("mismatch");
    const config = join(tempDir("mismatch-config"), "ham.json");
    writeFileSync(config, JSON.stringify({ cluster: { name: "c", node: "m1", etcd: etcd.endpoints } }));
    expect(ham(runDir, "--config", config).status).toBe(0);
    // SIGTERM keeps the state for the next ham.
    const pid = currentHamPid(runDir);
    process.kill(pid, "SIGTERM");
    await eventually(() => !isAlive(pid), 5_000, "the HAM to stop");
    const refused = (run: ReturnType<typeof ham>, now: string) => {
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(`ham: the state in ${runDir} belongs to node m1 of cluster c, and this start is ${now}: refused (start it as node m1 of cluster c, or with --fresh to discard that state)\n`);
    };
    // The command line wins over the file: --node m2 is node m2.
    refused(ham(runDir, "--config", config, "--node", "m2"), "node m2 of cluster c");
    refused(ham(runDir, "--node", "m1", "--cluster", "d", "--etcd", etcd.endpoints.join(",")), "node m1 of cluster d");
    refused(ham(runDir), "not in a cluster");
    // The same node again carries on from its state.
    expect(ham(runDir, "--config", config).status).toBe(0);
    const again = (await status(runDir)) as unknown as ClusterStatus;
    expect(again.cluster).toMatchObject({ name: "c", node: "m1" });
    process.kill(again.hamPid, "SIGTERM");
    await eventually(() => !isAlive(again.hamPid), 5_000, "the HAM to stop");
  });

  it("a config file's cluster section without etcd is one line, exit 1", () => {
    const config = join(tempDir("no-etcd-config"), "ham.json");
    writeFileSync(config, JSON.stringify({ cluster: { node: "m1", etcd: [] } }));
    const run = ham(tempDir("no-etcd"), "--config", config);
    expect(run.status).toBe(1);
    expect(run.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });
});
