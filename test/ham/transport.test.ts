import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { Session } from "../../dist/lib/client/session.js";
import { encodeFrame, FrameDecoder } from "../../dist/lib/wire/frame.js";
import { cleanup, eventually, HAM_BIN, isAlive, startHam, type HamInstance } from "../helpers/ham-instance.js";

let instance: HamInstance;
const sockets: Socket[] = [];
// The HAM's options: none, or a node of a cluster (the socket's tests run on both).
let hamArgs: () => string[] = () => [];

beforeEach(async () => {
  instance = await startHam(hamArgs());
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await cleanup();
});

// A raw client speaking frames, to send what the library never would.
function rawClient(runDir: string): Promise<{ socket: Socket; next(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(runDir, "ham.sock"));
    sockets.push(socket);
    const decoder = new FrameDecoder(1 << 24);
    const queue: unknown[] = [];
    const waiters: Array<(value: unknown) => void> = [];
    socket.on("data", (chunk) => {
      for (const frame of decoder.push(chunk)) {
        const value = frame.kind === "message" ? frame.value : frame;
        const waiter = waiters.shift();
        if (waiter !== undefined) waiter(value);
        else queue.push(value);
      }
    });
    socket.once("error", reject);
    socket.once("connect", () => resolve({
      socket,
      next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
    }));
  });
}

async function stillServes(runDir: string): Promise<void> {
  const session = await Session.open(runDir);
  expect(await session.request("status", {})).toMatchObject({ runDir });
  session.close();
}

describe("the socket", () => socketTests());

// The same with the HAM a node of a cluster (issue 17): its etcd adapter and the "remote" op
// change nothing for the local socket.
describeWithEtcd("the socket of a HAM in a cluster", () => {
  let etcd: EtcdCluster | null = null;
  let count = 0;
  beforeAll(async () => {
    const started = await EtcdCluster.start(1);
    etcd = started;
    hamArgs = () => ["--node", `t${(count += 1)}`, "--etcd", started.endpoints.join(",")];
  }, 30_000);
  afterAll(() => {
    hamArgs = () => [];
    etcd?.stop();
  });
  socketTests();
  it("answers malformed remote requests with errors, and keeps serving", async () => {
    const client = await rawClient(instance.runDir);
    client.socket.write(encodeFrame({ i: 1, op: "hello", a: { pid: process.pid } }));
    await client.next();
    const bad = [null, 7, [], { node: "" }, { node: "x".repeat(100), op: "ps" }, { node: "n/1", op: "ps" }, { node: "nowhere", op: "attach_self" },
      { node: "nowhere", op: "ps", timeoutMs: "soon" }, { node: "nowhere", op: "remote", a: { node: "x", op: "ps" } }];
    for (const [index, a] of bad.entries()) {
      client.socket.write(encodeFrame({ i: index + 2, op: "remote", a }));
      expect(await client.next(), JSON.stringify(a)).toMatchObject({ i: index + 2, e: "EINVAL" });
    }
    client.socket.write(encodeFrame({ i: 100, op: "remote", a: { node: "nowhere", op: "ps" } }));
    expect(await client.next()).toMatchObject({ i: 100, e: "EHOSTDOWN" });
    await stillServes(instance.runDir);
  });
});

function socketTests(): void {
  it("is 0600 in a 0700 run directory", () => {
    expect(statSync(instance.runDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(instance.runDir, "ham.sock")).mode & 0o777).toBe(0o600);
  });

  it("answers malformed frames, unknown ops, missing hello and wrong types with errors, and keeps serving", async () => {
    const client = await rawClient(instance.runDir);
    const bad = Buffer.from("{not json");
    const header = Buffer.alloc(4);
    header.writeUInt32BE(bad.length);
    client.socket.write(Buffer.concat([header, bad]));
    expect(await client.next()).toMatchObject({ i: -1, e: "EINVAL" });
    client.socket.write(encodeFrame({ i: 1, op: "status", a: {} }));
    expect(await client.next()).toMatchObject({ i: 1, e: "EINVAL", m: "the first request must be hello" });
    client.socket.write(encodeFrame({ i: 2, op: "hello", a: { pid: process.pid } }));
    expect(await client.next()).toMatchObject({ i: 2, r: { version: 1 } });
    client.socket.write(encodeFrame({ i: 3, op: "no_such_op", a: {} }));
    expect(await client.next()).toMatchObject({ i: 3, e: "EINVAL" });
    client.socket.write(encodeFrame({ i: 4, op: "attach", a: { ename: 17, pid: "x" } }));
    expect(await client.next()).toMatchObject({ i: 4, e: "EINVAL" });
    client.socket.write(encodeFrame({ i: 5, op: "condition", a: [1, 2] }));
    expect(await client.next()).toMatchObject({ i: 5, e: "EINVAL" });
    client.socket.write(encodeFrame({ op: "status" }));
    expect(await client.next()).toMatchObject({ i: -1, e: "EINVAL" });
    client.socket.write(encodeFrame({ i: 6, op: "__proto__", a: {} }));
    expect(await client.next()).toMatchObject({ i: 6, e: "EINVAL" });
    await stillServes(instance.runDir);
  });

  it("rejects a frame over 2 MiB with EMSGSIZE and stays usable on the same connection", async () => {
    const client = await rawClient(instance.runDir);
    client.socket.write(encodeFrame({ i: 1, op: "hello", a: { pid: process.pid } }));
    await client.next();
    client.socket.write(encodeFrame({ i: 2, op: "entity", a: { ename: "x".repeat(2 * 1024 * 1024) } }));
    expect(await client.next()).toMatchObject({ i: -1, e: "EMSGSIZE" });
    client.socket.write(encodeFrame({ i: 3, op: "status", a: {} }));
    expect(await client.next()).toMatchObject({ i: 3, r: { entities: 0 } });
  });

  it("survives a flood of garbage and of requests without corrupting its state", async () => {
    const garbage = await rawClient(instance.runDir);
    for (let i = 0; i < 200; i += 1) garbage.socket.write(Buffer.from(`\x00\x00\x00\x05hello${i}`));
    const flood = await rawClient(instance.runDir);
    flood.socket.write(encodeFrame({ i: 1, op: "hello", a: { pid: process.pid } }));
    await flood.next();
    const frames = [];
    for (let i = 0; i < 5_000; i += 1) frames.push(encodeFrame({ i: i + 2, op: "entity", a: { ename: `e${i % 100}` } }));
    flood.socket.write(Buffer.concat(frames));
    for (let i = 0; i < 5_000; i += 1) expect(await flood.next()).toMatchObject({ r: { ename: `e${i % 100}` } });
    const session = await Session.open(instance.runDir);
    expect(await session.request("status", {})).toMatchObject({ entities: 100, conditions: 0 });
    session.close();
  });

  it("accepts 10,000 concurrent clients", async () => {
    const opened: Socket[] = [];
    // A burst beyond the listen backlog is refused with EAGAIN: clients retry, as the library does.
    const connectRetrying = (): Promise<Socket> => new Promise((resolve, reject) => {
      const socket = connect(join(instance.runDir, "ham.sock"));
      socket.once("connect", () => resolve(socket));
      socket.once("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EAGAIN") reject(error);
        else setTimeout(() => connectRetrying().then(resolve, reject), 10);
      });
    });
    for (let batch = 0; batch < 40; batch += 1) {
      opened.push(...(await Promise.all(Array.from({ length: 250 }, connectRetrying))));
    }
    sockets.push(...opened);
    const last = opened[opened.length - 1];
    const reply = new Promise<unknown>((resolve) => last?.once("data", (chunk) => resolve(new FrameDecoder(1 << 20).push(chunk)[0])));
    last?.write(encodeFrame({ i: 1, op: "hello", a: { pid: process.pid } }));
    expect(await reply).toMatchObject({ kind: "message", value: { i: 1 } });
    const session = await Session.open(instance.runDir);
    const status = (await session.request("status", {})) as { clients: number };
    expect(status.clients).toBeGreaterThanOrEqual(10_001);
    session.close();
  }, 60_000);

  it("times out a request to a stopped HAM with ETIMEDOUT", async () => {
    const session = await Session.open(instance.runDir);
    instance.process.kill("SIGSTOP");
    try {
      await expect(session.request("status", {}, 300)).rejects.toMatchObject({ code: "ETIMEDOUT" });
    } finally {
      instance.process.kill("SIGCONT");
      session.close();
    }
  });
}

describe("one HAM per run directory", () => {
  it("refuses a second ham on the same run directory with exit 1 and its pid", async () => {
    for (const extra of [["--foreground"], []]) {
      const second = spawnSync(HAM_BIN, [...extra, "--no-mount", "--run-dir", instance.runDir], { encoding: "utf8" });
      expect(second.status).toBe(1);
      expect(second.stderr).toBe(`ham: already running (pid ${instance.process.pid}) in ${instance.runDir}\n`);
    }
    await stillServes(instance.runDir);
  });

  it("cleans up a stale socket and pid file left by a killed HAM and Guardian", async () => {
    const probe = await Session.open(instance.runDir);
    const { guardianPid } = await eventually(async () => {
      const now = (await probe.request("status", {})) as { guardianPid: number };
      return now.guardianPid > 0 ? now : null;
    });
    probe.close();
    instance.process.kill("SIGKILL");
    process.kill(guardianPid, "SIGKILL");
    await eventually(() => instance.process.signalCode !== null && !isAlive(guardianPid));
    const started = spawnSync(HAM_BIN, ["--no-mount", "--run-dir", instance.runDir], { encoding: "utf8" });
    expect(started.status).toBe(0);
    expect(started.stderr).toBe("");
    const session = await Session.open(instance.runDir);
    const status = (await session.request("status", {})) as { hamPid: number };
    await session.request("stop", {});
    session.close();
    await eventually(() => {
      try {
        process.kill(status.hamPid, 0);
        return false;
      } catch {
        return true;
      }
    });
  });
});
