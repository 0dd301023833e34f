import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { Session } from "../../dist/lib/client/session.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { eventually, HAMCTL_BIN, startHam, tempDir, cleanup, track, type HamInstance } from "../helpers/ham-instance.js";
import { guardianReady, processesOf, status } from "../helpers/takeover.js";

// Remote calls (issue 17): a client of n1 reaches n2's HAM through its own (ham_*_node, hamctl
// --node), through etcd; a down node answers EHOSTDOWN at once, a hung one ETIMEDOUT, and a
// mutation is made once across a takeover of the target HAM.

interface PsRow { name: string; pid: number }

function hamctl(runDir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", runDir, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function psOf(runDir: string, ...node: string[]): PsRow[] {
  const run = hamctl(runDir, ...node, "ps", "--json");
  if (run.status !== 0) throw new Error(`hamctl ps: ${run.stderr}`);
  return JSON.parse(run.stdout) as PsRow[];
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describeWithEtcd("remote calls between the HAMs of a cluster", () => {
  let etcd: EtcdCluster;
  const hams: Record<string, HamInstance> = {};
  const savedRunDir = process.env["HAM_RUN_DIR"];
  // n3 hangs (SIGSTOP) in a test: its lease outlives the 5 s call timeout, so the call times out
  // before the node is seen down.
  const ttlOf: Record<string, string> = { n1: "2", n2: "2", n3: "8" };
  const stopped: number[] = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
    const urls = etcd.endpoints.join(",");
    // n2 dies (SIGKILL) right after the first write of its first attach: its Guardian takes over.
    await Promise.all(["n1", "n2", "n3"].map(async (name) => {
      hams[name] = await startHam(["--node", name, "--etcd", urls, "--lease-ttl", ttlOf[name] ?? "2"], name === "n2" ? { HAMD_FAILPOINT: "journal-write:attach" } : {});
    }));
    for (const name of ["n1", "n2", "n3"]) await guardianReady(node(name).runDir);
    process.env["HAM_RUN_DIR"] = node("n1").runDir;
    await eventually(() => psOf(node("n1").runDir, "--node", "n3") !== null, 10_000, "n1 to reach n3");
    await ham.ham_connect(0);
  }, 60_000);

  afterAll(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone
      }
    }
    await ham.ham_disconnect(0).catch(() => undefined);
    if (savedRunDir === undefined) delete process.env["HAM_RUN_DIR"];
    else process.env["HAM_RUN_DIR"] = savedRunDir;
    await cleanup();
    etcd?.stop();
  }, 60_000);

  const node = (name: string): HamInstance => hams[name] ?? (() => { throw new Error(`no ${name}`); })();

  it("an attach on n2 from a client of n1 is made once across a takeover of n2's HAM (fail point at its journal write)", async () => {
    const handle = await ham.ham_attach_node("svc", "n2", -1, "/bin/sleep 1000", 0);
    expect(handle).toMatchObject({ ename: "svc", node: "n2" });
    expect((await status(node("n2").runDir)).hamFailures).toBe(1);
    const pid = await eventually(() => psOf(node("n2").runDir).find((row) => row.name === "svc" && row.pid > 0)?.pid, 5_000, "svc's process on n2");
    track(pid);
    expect(processesOf(node("n2").runDir, "svc")).toEqual([pid]);
    expect(psOf(node("n1").runDir).map((row) => row.name)).not.toContain("svc");
    // Sent again, the same attach is the same error as on n2 itself.
    expect(await codeOf(ham.ham_attach_node("svc", "n2", -1, "/bin/sleep 1000", 0))).toBe("EEXIST");
  });

  it("a process attached on n2 from n1 shows in n2's hamctl ps; a condition set on its handle from n1 runs on n2; hamctl --node restarts it", async () => {
    const mark = join(tempDir("remote-mark"), "died");
    const entity = await ham.ham_attach_node("worker", "n2", -1, "/bin/sleep 1000", 0);
    const first = await eventually(() => psOf(node("n2").runDir).find((row) => row.name === "worker" && row.pid > 0)?.pid, 5_000, "worker on n2");
    track(first);
    expect(psOf(node("n1").runDir, "--node", "n2").find((row) => row.name === "worker")?.pid).toBe(first);
    const died = await ham.ham_condition(entity, ham.CONDDEATH, "died", ham.HREARMAFTERRESTART);
    expect(died).toMatchObject({ node: "n2", cname: "died" });
    await ham.ham_action_execute(died, "mark", `/usr/bin/touch ${mark}`, ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(died, "again", "/bin/sleep 1000", ham.HREARMAFTERRESTART);
    expect(await node("n2").field("/worker/died/.info", "Condition type")).toMatch(/DEATH/);
    const restart = hamctl(node("n1").runDir, "--node", "n2", "restart", "worker");
    expect(restart).toMatchObject({ status: 0, stderr: "" });
    const second = await eventually(() => psOf(node("n2").runDir).find((row) => row.name === "worker" && row.pid > 0 && row.pid !== first)?.pid, 10_000, "worker restarted on n2");
    track(second);
    await eventually(() => existsSync(mark), 5_000, "the death condition's action to run on n2");
  });

  it("a node's own name is answered by its own HAM; errors are those of the HAM that answers", async () => {
    await ham.ham_attach_node("here", "n1", -1, "/bin/sleep 1000", 0);
    track(await eventually(() => psOf(node("n1").runDir).find((row) => row.name === "here" && row.pid > 0)?.pid, 5_000, "here on n1"));
    expect(psOf(node("n2").runDir).map((row) => row.name)).not.toContain("here");
    expect(await codeOf(ham.ham_detach_name_node("n2", "nosuch", 0))).toBe("ENOENT");
    expect(await codeOf(ham.ham_entity_handle_node("n2", "nosuch", 0))).toBe("ENOENT");
    const handle = await ham.ham_entity_handle_node("n2", "worker", 0);
    expect(await codeOf(ham.ham_condition(handle, 999, "bad", 0))).toBe("EINVAL");
    expect(await codeOf(ham.ham_group_create("g", { model: "bogus" } as never, "n2"))).toBe("EINVAL");
  });

  it("calls about the calling process stay local: EINVAL with a clear message", async () => {
    expect(await codeOf(ham.ham_role_register(() => undefined, { entity: "worker", node: "n2" }))).toBe("EINVAL");
    expect(await codeOf(ham.ham_channel_create(() => undefined, "n2"))).toBe("EINVAL");
    const session = await Session.open(node("n1").runDir);
    try {
      for (const op of ["attach_self", "heartbeat", "role_register", "detach_self", "remote", "hello"]) {
        const error = await session.request("remote", { node: "n2", op, a: {} }).then(() => null, (failure: unknown) => failure as { code: string; message: string });
        expect(error?.code, op).toBe("EINVAL");
        expect(error?.message).toContain("calling process");
      }
    } finally {
      session.close();
    }
  });

  it("a name no node has is EHOSTDOWN at once; hamctl says so in one line, exit 1", async () => {
    const { value, ms } = await timed(() => codeOf(ham.ham_detach_name_node("n9", "x", 0)));
    expect(value).toBe("EHOSTDOWN");
    console.log(`unknown node -> EHOSTDOWN in ${ms.toFixed(1)} ms`);
    const run = hamctl(node("n1").runDir, "--node", "n9", "ps");
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("hamctl: EHOSTDOWN: no node n9 in cluster hamd (none has joined under that name)\n");
  });

  it("a HAM outside a cluster answers a node name with EINVAL (not in a cluster)", async () => {
    const plain = await startHam();
    const run = hamctl(plain.runDir, "--node", "n2", "ps");
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^hamctl: EINVAL: not in a cluster[^\n]*\n$/);
    await plain.stop();
  });

  it("malformed remote requests get error replies and the HAMs keep serving", async () => {
    const session = await Session.open(node("n1").runDir);
    try {
      const bad: unknown[] = [null, [], { node: 7, op: "ps" }, { node: "../n2", op: "ps" }, { node: "n2" }, { node: "n2", op: "ps", timeoutMs: -1 },
        { node: "n2", op: "ps", timeoutMs: 1e9 }, { node: "n2", op: "no_such_op", a: {} }, { node: "n2", op: "attach", a: { ename: 17 } }, { node: "n2", op: "ps", a: [1] }];
      for (const args of bad) expect(await codeOf(session.request("remote", args)), JSON.stringify(args)).toBe("EINVAL");
      expect(await session.request("remote", { node: "n2", op: "status", a: {} })).toMatchObject({ runDir: node("n2").runDir });
    } finally {
      session.close();
    }
  });

  it("a hung node (HAM and Guardian SIGSTOPped) answers ETIMEDOUT within the call's timeout, and serves again after SIGCONT", async () => {
    const { hamPid, guardianPid } = await guardianReady(node("n3").runDir);
    stopped.push(hamPid, guardianPid);
    process.kill(guardianPid, "SIGSTOP");
    process.kill(hamPid, "SIGSTOP");
    try {
      const { value, ms } = await timed(() => codeOf(ham.ham_detach_name_node("n3", "x", 0)));
      console.log(`hung node -> ${value} in ${Math.round(ms)} ms (timeout 5000 ms)`);
      expect(value).toBe("ETIMEDOUT");
      expect(ms).toBeLessThan(7_000);
    } finally {
      process.kill(hamPid, "SIGCONT");
      process.kill(guardianPid, "SIGCONT");
    }
    await eventually(() => hamctl(node("n1").runDir, "--node", "n3", "status").status === 0, 15_000, "n3 to answer again");
  });

  it("a node whose HAM and Guardian are SIGKILLed answers EHOSTDOWN at once once it is seen down", async () => {
    const { hamPid, guardianPid } = await guardianReady(node("n3").runDir);
    process.kill(guardianPid, "SIGKILL");
    process.kill(hamPid, "SIGKILL");
    const n3 = () => (JSON.parse(hamctl(node("n1").runDir, "nodes", "--json").stdout) as Array<{ name: string; state: string }>).find((row) => row.name === "n3");
    await eventually(() => n3()?.state === "down", 15_000, "n1 to see n3 down");
    const { value, ms } = await timed(() => codeOf(ham.ham_detach_name_node("n3", "x", 0)));
    console.log(`down node -> ${value} in ${ms.toFixed(1)} ms`);
    expect(value).toBe("EHOSTDOWN");
    expect(ms).toBeLessThan(1_000);
    const run = hamctl(node("n1").runDir, "--node", "n3", "ps");
    expect(run).toMatchObject({ status: 1, stderr: "hamctl: EHOSTDOWN: node n3 is down\n" });
  });
});
