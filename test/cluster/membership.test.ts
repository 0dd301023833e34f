import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { pidsWithEnv } from "../../dist/lib/proc.js";
import { Session } from "../../dist/lib/client/session.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { cleanup, eventually, HAM_BIN, isAlive, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";
import { killHam, status, guardianReady } from "../helpers/takeover.js";

interface NodeRow { name: string; pid: number | null; state: string; leaseLeftMs: number | null }
interface ClusterStatus { cluster: { name: string; node: string; leaseId: string; etcd: string; nodes: NodeRow[] } | null }

async function nodesOf(ham: HamInstance): Promise<NodeRow[]> {
  const session = await Session.open(ham.runDir);
  try {
    return (await session.request("nodes", {}, 2_000)) as NodeRow[];
  } finally {
    session.close();
  }
}

// Which member leads, from etcd's JSON gateway (/v3/maintenance/status).
async function leaderIndex(endpoints: string[]): Promise<number> {
  for (const [index, url] of endpoints.entries()) {
    const answer = (await (await fetch(`${url}/v3/maintenance/status`, { method: "POST", body: "{}" })).json()) as { header: { member_id: string }; leader: string };
    if (answer.header.member_id === answer.leader) return index;
  }
  throw new Error("no etcd member leads");
}

const upNames = (rows: NodeRow[]) => rows.filter((row) => row.state === "up").map((row) => row.name).sort();
const TTL_MS = 2_000;

describeWithEtcd("a cluster of HAMs: joining and membership", () => {
  let etcd: EtcdCluster;
  let watcher: Etcd3;
  // Every node key deleted, as a client of etcd of its own sees it (not the HAMs' account).
  const deleted: Array<{ key: string; at: number }> = [];
  const hams: Record<string, HamInstance> = {};

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
    watcher = new Etcd3({ hosts: etcd.endpoints });
    const watch = await watcher.watch().prefix("/hamd/hamd/nodes/").create();
    watch.on("delete", (kv) => deleted.push({ key: kv.key.toString(), at: performance.now() }));
    const urls = etcd.endpoints.join(",");
    await Promise.all(["n1", "n2", "n3"].map(async (name) => {
      hams[name] = await startHam(["--node", name, "--etcd", urls]);
    }));
  }, 30_000);

  afterAll(async () => {
    for (const ham of Object.values(hams)) await ham.stop();
    watcher?.close();
    etcd?.stop();
  });

  const ham = (name: string): HamInstance => hams[name] ?? (() => { throw new Error(`no ${name}`); })();

  it("three nodes join and each lists all three up", async () => {
    for (const name of ["n1", "n2", "n3"]) {
      await eventually(async () => upNames(await nodesOf(ham(name))).join() === "n1,n2,n3", 5_000, `${name} to list three nodes up`);
      const self = (await nodesOf(ham(name))).find((row) => row.name === name);
      expect(self?.leaseLeftMs).toBeGreaterThan(0);
      const own = (await status(ham(name).runDir)) as unknown as ClusterStatus;
      expect(own.cluster).toMatchObject({ name: "hamd", node: name, etcd: "ok" });
    }
  });

  it("a second HAM claiming a held node is refused, and leaves nothing behind", async () => {
    const before = (await nodesOf(ham("n1"))).find((row) => row.name === "n1");
    const runDir = tempDir("n1-again");
    const started = performance.now();
    const run = spawnSync(process.execPath, [HAM_BIN, "--run-dir", runDir, "--no-mount", "--node", "n1", "--etcd", etcd.endpoints.join(",")], { encoding: "utf8", timeout: 15_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`ham: node n1 is already held (pid ${before?.pid})\n`);
    console.log(`refused in ${Math.round(performance.now() - started)} ms`);
    await eventually(() => pidsWithEnv(`HAM_RUN_DIR=${runDir}`).length === 0, 3_000, "no process of the refused HAM");
    const after = (await nodesOf(ham("n1"))).find((row) => row.name === "n1");
    expect(after).toMatchObject({ pid: before?.pid, state: "up" });
  });

  it("one etcd member (a follower) killed changes nothing: the nodes stay up", async () => {
    // A follower: the leader's death still loses a node's lease in some runs (README, "A cluster of HAMs").
    const member = ((await leaderIndex(etcd.endpoints)) + 1) % etcd.endpoints.length;
    etcd.kill(member);
    const killedAt = performance.now();
    try {
      // Two TTLs with a member gone, judged on every node.
      const seen: Record<string, string> = {};
      await eventually(async () => {
        for (const name of ["n1", "n2", "n3"]) if ((seen[name] = upNames(await nodesOf(ham(name))).join()) !== "n1,n2,n3") return false;
        return performance.now() - killedAt > 2 * TTL_MS;
      }, 10_000, "two TTLs with the nodes up").catch((error: Error) => {
        const lines = ["n1", "n2", "n3"].map((name) => `${name} sees ${seen[name]}; its log: ${JSON.stringify(ham(name).logLines().filter((line) => /^(node|lease|etcd)/.test(String(line["event"]))).map((line) => `${line["rel"]} ${line["event"]} ${line["node"] ?? ""}`))}`);
        throw new Error(`${error.message}\n${lines.join("\n")}`);
      });
      expect(deleted).toEqual([]);
      expect(["n1", "n2", "n3"].filter((name) => ham(name).logLines().some((line) => line["event"] === "lease-expiring"))).toEqual([]);
    } finally {
      etcd.restart(member);
      await etcd.healthy(10_000);
    }
  });

  it("a HAM takeover is not a node failure: the lease and node key survive SIGKILL of n2's HAM", async () => {
    const before = (await status(ham("n2").runDir)) as unknown as ClusterStatus;
    const { after } = await killHam(ham("n2"));
    const killedAt = performance.now();
    // A HAM that takes over serves first and joins in the background (an etcd without a quorum
    // must not cost the node its HAM): its cluster shows once it has joined, on the same lease.
    const now = await eventually(async () => ((await status(ham("n2").runDir)) as unknown as ClusterStatus).cluster ?? null, 5_000, "n2's new HAM joined");
    expect(now.leaseId).toBe(before.cluster?.leaseId);
    // The re-claim names the new HAM's pid; by TTL + 1 s after the kill a lost lease would have shown.
    await eventually(async () => (await nodesOf(ham("n1"))).find((row) => row.name === "n2")?.pid === after.hamPid
      && performance.now() - killedAt > TTL_MS + 1_000, 10_000, "n1 to see n2 on its new HAM");
    expect(deleted.filter((event) => event.key.endsWith("/n2"))).toEqual([]);
    const clusterLines = ham("n1").logLines().filter((line) => /^(node|lease|etcd|joined)/.test(String(line["event"])));
    expect(clusterLines.filter((line) => line["event"] === "node-down"), JSON.stringify(clusterLines)).toEqual([]);
  });

  it("the whole node (HAM and Guardian) SIGKILLed: the others see it down within TTL + 1 s", async () => {
    const { hamPid, guardianPid } = await guardianReady(ham("n3").runDir);
    process.kill(guardianPid, "SIGKILL");
    process.kill(hamPid, "SIGKILL");
    const killedAt = performance.now();
    await eventually(async () => (await nodesOf(ham("n1"))).find((row) => row.name === "n3")?.state === "down", 6_000, "n1 to see n3 down");
    const ms = performance.now() - killedAt;
    console.log(`node n3 SIGKILLed (HAM and Guardian) -> n1 sees it down in ${Math.round(ms)} ms (TTL ${TTL_MS} ms)`);
    expect(ms).toBeLessThanOrEqual(3_500);
    expect(isAlive(hamPid) || isAlive(guardianPid)).toBe(false);
    expect(ham("n1").logLines().some((line) => line["event"] === "node-down" && line["node"] === "n3")).toBe(true);
  });
});

describeWithEtcd("ham's cluster options at start", () => {
  // Their run directories (tempDir) go with the test.
  afterEach(cleanup);
  it("--node without --etcd is a usage error (exit 2, one line then the usage)", () => {
    const run = spawnSync(process.execPath, [HAM_BIN, "--run-dir", tempDir("usage"), "--no-mount", "--node", "n1"], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe("ham: --node needs --etcd URL[,URL...]");
  });

  it("an unreachable etcd (a closed port) ends ham with one line within a few seconds", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
      });
    });
    const runDir = tempDir("no-etcd");
    const started = performance.now();
    const run = spawnSync(process.execPath, [HAM_BIN, "--run-dir", runDir, "--no-mount", "--node", "n1", "--etcd", `http://127.0.0.1:${port}`], { encoding: "utf8", timeout: 15_000 });
    const ms = performance.now() - started;
    expect(run.status).toBe(1);
    expect(run.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(run.stderr).toMatch(/^ham: etcd at http:\/\/127\.0\.0\.1:\d+: /);
    expect(ms).toBeLessThan(6_000);
    await eventually(() => pidsWithEnv(`HAM_RUN_DIR=${runDir}`).length === 0, 3_000, "no process of the HAM that could not join");
  });
});

describeWithEtcd("an etcd with authentication", () => {
  let etcd: EtcdCluster;

  beforeAll(async () => {
    etcd = await EtcdCluster.start(1);
    const admin = new Etcd3({ hosts: etcd.endpoints });
    try {
      await admin.role("root").create();
      await admin.user("root").create("rootpw");
      await admin.user("root").addRole("root");
      await admin.auth.authEnable({});
    } finally {
      admin.close();
    }
  });

  afterAll(() => etcd?.stop());
  afterEach(cleanup);

  it("a wrong password ends ham with one line, exit 1", () => {
    const run = spawnSync(process.execPath, [HAM_BIN, "--run-dir", tempDir("bad-password"), "--no-mount", "--node", "a1", "--etcd", etcd.endpoints.join(","), "--etcd-user", "root"],
      { encoding: "utf8", timeout: 15_000, env: { ...process.env, HAMD_ETCD_PASSWORD: "wrong" } });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^ham: etcd at [^\n]*authentication failed[^\n]*\n$/);
  });

  it("the right password (from HAMD_ETCD_PASSWORD) joins, and the Guardian that takes over keeps the lease", async () => {
    const ham = await startHam(["--node", "a1", "--etcd", etcd.endpoints.join(","), "--etcd-user", "root"], { HAMD_ETCD_PASSWORD: "rootpw" });
    try {
      const before = (await status(ham.runDir)) as unknown as ClusterStatus;
      expect(before.cluster?.node).toBe("a1");
      await killHam(ham);
      const after = await eventually(async () => ((await status(ham.runDir)) as unknown as ClusterStatus).cluster ?? null, 5_000, "the new HAM joined");
      expect(after.leaseId).toBe(before.cluster?.leaseId);
    } finally {
      await ham.stop();
    }
  });
});
