import { readFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ClusterNodes } from "../../dist/lab/cluster-nodes.js";
import { EtcdProxy } from "../../dist/lab/etcd-proxy.js";
import { pidsWithEnv } from "../../dist/lib/proc.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { eventually } from "../helpers/ham-instance.js";

// The lab's cut-off: a TCP proxy in front of etcd that stops forwarding both ways and holds the
// connections open, as a network partition does. First on a plain echo server, then a real node.

describe("the etcd proxy", () => {
  let echo: Server;
  let proxy: EtcdProxy;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
    const address = echo.address();
    proxy = await EtcdProxy.start([`http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`]);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    proxy.restore();
  });
  afterAll(() => {
    proxy.close();
    echo.close();
  });

  const open = async () => {
    const url = new URL(proxy.endpoints[0] ?? "");
    const socket = await new Promise<Socket>((resolve, reject) => {
      const client: Socket = connect(Number(url.port), "127.0.0.1", () => resolve(client));
      client.once("error", reject);
    });
    sockets.push(socket);
    let received = "";
    let closed = false;
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("close", () => (closed = true));
    return { socket, received: () => received, closed: () => closed };
  };

  it("forwards both ways, holds everything while cut with the connection open, and delivers it in order once restored", async () => {
    const link = await open();
    link.socket.write("one;");
    await eventually(() => link.received() === "one;", 2_000, "the echo of one");
    proxy.cut();
    link.socket.write("two;");
    link.socket.write("three;");
    // A fresh connection while cut is accepted and held (its upstream not dialled yet).
    const late = await open();
    late.socket.write("late;");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(link.received()).toBe("one;");
    expect(late.received()).toBe("");
    expect(link.closed() || late.closed()).toBe(false);
    proxy.restore();
    await eventually(() => link.received() === "one;two;three;" && late.received() === "late;", 2_000, "the held bytes");
  });
});

const TTL_S = 2;

interface LogLine { event?: string; node?: string; time?: string }
const logOf = (runDir: string): LogLine[] => readFileSync(join(runDir, "ham.log"), "utf8").split("\n").filter(Boolean)
  .flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

describeWithEtcd("a node cut off from etcd by its proxy", () => {
  let cluster: ClusterNodes;

  beforeAll(async () => {
    cluster = await ClusterNodes.start({ nodes: 2, ttlS: TTL_S, spec: { config: () => ({ entities: [] }), hamArgs: ["--no-mount"] } });
  }, 60_000);
  afterAll(async () => {
    const runDirs = cluster?.nodes.map((node) => node.runDir) ?? [];
    await cluster?.stop();
    for (const runDir of runDirs) expect(pidsWithEnv(`HAM_RUN_DIR=${runDir}`)).toEqual([]);
  });

  const stateOf = async (viewer: string, name: string) => {
    const rows = (await cluster.node(viewer).system.ask("nodes", {}, 2_000).catch(() => [])) as Array<{ name: string; state: string }>;
    return rows.find((row) => row.name === name)?.state ?? "unknown";
  };

  it("logs lease-expiring while its HAM runs on, the other node sees it down, and it comes back once restored", async () => {
    const n1 = cluster.node("n1");
    await eventually(async () => (await stateOf("n2", "n1")) === "up", 5_000, "n2 to see n1 up");
    const hamPid = n1.system.hamPid();
    cluster.cutNode(n1);
    const cutAt = performance.now();
    await eventually(() => logOf(n1.runDir).some((line) => line.event === "lease-expiring"), (TTL_S + 1) * 1_000, "n1 to log lease-expiring");
    const expiringMs = performance.now() - cutAt;
    await eventually(async () => (await stateOf("n2", "n1")) === "down", (TTL_S + 3) * 1_000, "n2 to see n1 down");
    const downMs = performance.now() - cutAt;
    console.log(`n1 cut off: lease-expiring on n1 after ${Math.round(expiringMs)} ms, n1 down on n2 after ${Math.round(downMs)} ms (TTL ${TTL_S} s)`);
    // The cut node's processes ran on: its HAM is the same and answers.
    expect(n1.system.hamPid()).toBe(hamPid);
    expect((await n1.system.status(2_000))?.hamPid).toBe(hamPid);
    expect(logOf(cluster.node("n2").runDir).some((line) => line.event === "node-down" && line.node === "n1")).toBe(true);
    cluster.restoreNode(n1);
    await eventually(async () => (await stateOf("n2", "n1")) === "up", 10_000, "n2 to see n1 up again");
    // n1 logs its new lease after the claim's answer, which may come after n2's watch saw the claim.
    await eventually(() => logOf(n1.runDir).some((line) => line.event === "lease-regranted" || line.event === "lease-renewed"), 5_000, "n1 to say its lease is back");
  }, 40_000);
});
