import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { Session } from "../../dist/lib/client/session.js";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { Members, type Belief } from "../helpers/beliefs.js";
import { cleanup, killRunDir, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";
import { memberEntity } from "../helpers/members.js";
import { guardianReady, status } from "../helpers/takeover.js";

// Checkpoints across nodes (issue 17): a checkpoint bound to the cross-node 2N group g = [db@n1,
// db@n2] lives in etcd (a real 3-member one); two real HAM nodes. This test process is the
// checkpoints' client on each node (ckpt_open_node with the node's run directory), writing
// through the node whose member is active. n1 dies at a fail point right after the etcd
// transaction of its first ckpt_delete (HAMD_FAILPOINT=after-ckpt-txn:ckpt_delete).

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  }
}

describeWithEtcd("a cluster of HAMs: checkpoints across nodes", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let log: string;
  const nodes: Record<string, HamInstance> = {};
  const handles: ham.ckpt_handle_t[] = [];

  let members: Members;
  const oneActive = (where: string | null = null, timeoutMs = 10_000): Promise<Belief> => members.oneActive(where, timeoutMs);
  const makeActive = (name: string): Promise<Belief> => members.makeActive(name);

  const node = (name: string): HamInstance => nodes[name] ?? (() => { throw new Error(`no ${name}`); })();

  async function startNode(name: string, env: NodeJS.ProcessEnv = {}): Promise<HamInstance> {
    const config = join(dir, `${name}.json`);
    writeFileSync(config, JSON.stringify({ entities: [memberEntity("db")], groups: [{ name: "g", model: "2N", members: ["db@n1", "db@n2"] }] }));
    nodes[name] = await startHam(["--node", name, "--etcd", etcd.endpoints.join(","), "--config", config], { MEMBER_LOG: log, MEMBER_NODE: name, ...env });
    await guardianReady(nodes[name].runDir);
    return nodes[name];
  }

  // A handle on checkpoint `name` of group g, through node `on`'s HAM.
  async function open(on: string, name: string, options: ham.CheckpointOptions = {}): Promise<ham.ckpt_handle_t> {
    const handle = await ham.ckpt_open_node(name, node(on).runDir, { group: "g", ...options });
    handles.push(handle);
    return handle;
  }

  beforeAll(async () => {
    dir = tempDir("cluster-ckpt");
    log = join(dir, "roles.log");
    members = new Members(log);
    writeFileSync(log, "");
    etcd = await EtcdCluster.start(3);
    await Promise.all([startNode("n1", { HAMD_FAILPOINT: "after-ckpt-txn:ckpt_delete" }), startNode("n2")]);
    await oneActive();
  }, 40_000);

  afterAll(async () => {
    for (const handle of handles) await ham.ckpt_close(handle).catch(() => undefined);
    await cleanup();
    etcd?.stop();
  }, 30_000);

  it("limits: E2BIG, ENOSPC, EINVAL (maxSectionBytes over 1 MiB, a group that is not across nodes, no cluster), EEXIST, EIDRM after unlink and reopen", async () => {
    await makeActive("n1");
    const small = await open("n1", "limits", { maxSections: 2, maxBytes: 100, maxSectionBytes: 60 });
    expect(small.group).toBe("g");
    expect(small.limits).toEqual({ maxSections: 2, maxSectionBytes: 60, maxBytes: 100 });
    expect(await ham.ckpt_write(small, "a", "x".repeat(60))).toBe(0);
    // The HAM's own check (the library's is skipped by a bare request).
    const session = await Session.open(node("n1").runDir);
    try {
      expect(await codeOf(session.request("ckpt_write", { group: "g", name: "limits", id: small.id, section: "b", data: Buffer.alloc(61).toString("base64") }))).toBe("E2BIG");
    } finally {
      session.close();
    }
    expect(await codeOf(ham.ckpt_write(small, "b", "x".repeat(41)))).toBe("ENOSPC");
    expect(await ham.ckpt_write(small, "b", "x".repeat(40))).toBe(0);
    expect(await codeOf(ham.ckpt_write(small, "c", "x"))).toBe("ENOSPC");
    expect((await ham.ckpt_sections(small)).map(({ name, size }) => [name, size])).toEqual([["a", 60], ["b", 40]]);
    expect(await codeOf(open("n1", "big", { maxSectionBytes: 1024 * 1024 + 1 }))).toBe("EINVAL");
    expect(await codeOf(open("n2", "limits", { maxSections: 3 }))).toBe("EEXIST");
    expect(await codeOf(ham.ckpt_open_node("x", node("n1").runDir, { group: "nogroup" }))).toBe("EINVAL");
    const plain = await startHam();
    expect(await codeOf(ham.ckpt_open_node("x", plain.runDir, { group: "g" }))).toBe("EINVAL");
    await plain.stop();
    // Unlinked and made again: the old handle is EIDRM, the new one starts empty.
    expect(await ham.ckpt_unlink_node("limits", node("n1").runDir, { group: "g" })).toBe(0);
    expect(await codeOf(ham.ckpt_read(small, "a"))).toBe("EIDRM");
    const again = await open("n1", "limits");
    expect(again.id).not.toBe(small.id);
    expect(await codeOf(ham.ckpt_write(small, "a", "y"))).toBe("EIDRM");
    expect(await ham.ckpt_sections(again)).toEqual([]);
    expect(await codeOf(ham.ckpt_unlink_node("nothing", node("n1").runDir, { group: "g" }))).toBe("ENOENT");
    // A local checkpoint of the same name is another checkpoint, as today.
    const local = await ham.ckpt_open_node("limits", node("n1").runDir);
    expect(local.group).toBeNull();
    expect(await codeOf(ham.ckpt_read(local, "a"))).toBe("ENOENT");
    await ham.ckpt_close(local);
  }, 30_000);

  it("ckpt_*_node by node name (a remote call through etcd) works for both kinds: a group's checkpoint written on the active's node from the other node, a local one of that node", async () => {
    await makeActive("n1");
    const saved = process.env["HAM_RUN_DIR"];
    process.env["HAM_RUN_DIR"] = node("n2").runDir;
    try {
      const remote = await ham.ckpt_open_node("remote", "n1", { group: "g" });
      handles.push(remote);
      expect(remote.node).toBe("n1");
      expect(await ham.ckpt_write(remote, "r", "through n2's HAM")).toBe(0);
      const here = await open("n2", "remote");
      expect((await ham.ckpt_read(here, "r")).toString()).toBe("through n2's HAM");
      expect(await codeOf(ham.ckpt_write(here, "r", "n2 itself"))).toBe("EPERM");
      const local = await ham.ckpt_open_node("local", "n1");
      expect(await ham.ckpt_write(local, "l", "kept by n1's HAM")).toBe(0);
      expect((await ham.ckpt_read(local, "l")).toString()).toBe("kept by n1's HAM");
      await ham.ckpt_close(local);
      expect(await ham.ckpt_unlink_node("local", "n1")).toBe(0);
      expect(await ham.ckpt_unlink_node("remote", "n1", { group: "g" })).toBe(0);
      expect(await codeOf(ham.ckpt_read(here, "r"))).toBe("EIDRM");
    } finally {
      if (saved === undefined) delete process.env["HAM_RUN_DIR"];
      else process.env["HAM_RUN_DIR"] = saved;
    }
  }, 30_000);

  it("a write from the node that does not hold the election is EPERM and changes nothing; reads work there", async () => {
    await makeActive("n1");
    const writer = await open("n1", "fenced");
    expect(await ham.ckpt_write(writer, "s", "from n1")).toBe(0);
    const other = await open("n2", "fenced");
    expect(other.id).toBe(writer.id);
    const refused = ham.ckpt_write(other, "s", "from n2");
    await expect(refused).rejects.toMatchObject({ code: "EPERM", message: expect.stringContaining("node n2 does not hold group g's election") });
    expect(await codeOf(ham.ckpt_delete(other, "s"))).toBe("EPERM");
    expect(await codeOf(ham.ckpt_unlink_node("fenced", node("n2").runDir, { group: "g" }))).toBe("EPERM");
    expect((await ham.ckpt_read(other, "s")).toString()).toBe("from n1");
  }, 30_000);

  it("exactly once: n1's HAM dies right after a ckpt_delete's etcd transaction; the HAM that took over answers the resent request 0, not ENOENT", async () => {
    await makeActive("n1");
    const handle = await open("n1", "once");
    expect(await ham.ckpt_write(handle, "gone", "bytes")).toBe(0);
    const before = (await status(node("n1").runDir)).hamFailures;
    expect(await ham.ckpt_delete(handle, "gone")).toBe(0);
    expect((await status(node("n1").runDir)).hamFailures).toBe(before + 1);
    expect(await codeOf(ham.ckpt_read(handle, "gone"))).toBe("ENOENT");
    expect(await ham.ckpt_sections(handle)).toEqual([]);
  }, 30_000);

  it("node death (SIGKILL of n1's HAM, Guardian and members): n2's member becomes active and reads every acknowledged section, byte for byte", async () => {
    await makeActive("n1");
    const handle = await open("n1", "survives");
    const written = new Map<string, Buffer>();
    for (let index = 0; index < 20; index++) {
      const bytes = randomBytes(index === 0 ? 1024 * 1024 : 1 + Math.floor(Math.random() * 8192));
      expect(await ham.ckpt_write(handle, `s${index}`, bytes)).toBe(0);
      written.set(`s${index}`, bytes);
    }
    const { hamPid, guardianPid } = await guardianReady(node("n1").runDir);
    process.kill(guardianPid, "SIGKILL");
    process.kill(hamPid, "SIGKILL");
    await killRunDir(node("n1").runDir);
    await oneActive("n2", 15_000);
    const reader = await open("n2", "survives");
    expect(reader.id).toBe(handle.id);
    for (const [section, bytes] of written) expect((await ham.ckpt_read(reader, section)).equals(bytes), section).toBe(true);
    expect((await ham.ckpt_sections(reader)).length).toBe(20);
    // n2 holds the election now: it writes.
    expect(await ham.ckpt_write(reader, "s0", "n2 was here")).toBe(0);
    await node("n1").stop();
    await startNode("n1");
    await members.standbyOn("n1");
  }, 60_000);

  it("a node that lost its election while hung (SIGSTOP past its lease, then SIGCONT) gets EPERM for a write it makes after resuming; the new active's bytes stay", async () => {
    await makeActive("n1");
    const stale = await open("n1", "hung");
    expect(await ham.ckpt_write(stale, "x", "n1 before the hang")).toBe(0);
    const { hamPid, guardianPid } = await guardianReady(node("n1").runDir);
    process.kill(guardianPid, "SIGSTOP");
    process.kill(hamPid, "SIGSTOP");
    let late: Promise<string> = Promise.resolve("not sent");
    try {
      await oneActive("n2", 15_000);
      const fresh = await open("n2", "hung");
      expect(await ham.ckpt_write(fresh, "x", "n2 active")).toBe(0);
      // Sent while n1's HAM is stopped: it finds the request when it resumes.
      late = codeOf(ham.ckpt_write(stale, "x", "n1 after the hang"));
    } finally {
      process.kill(hamPid, "SIGCONT");
      process.kill(guardianPid, "SIGCONT");
    }
    expect(await late).toBe("EPERM");
    expect(await codeOf(ham.ckpt_write(stale, "x", "n1 once more"))).toBe("EPERM");
    expect((await ham.ckpt_read(stale, "x")).toString()).toBe("n2 active");
  }, 60_000);

  it("etcd quorum lost: a read fails with ETIMEDOUT within its deadline (never hangs), a write too; quorum back: both work", async () => {
    const active = await oneActive();
    const where = active.entity.slice(active.entity.indexOf("@") + 1);
    const handle = await open(where, "quorum");
    expect(await ham.ckpt_write(handle, "q", "before")).toBe(0);
    etcd.kill(0);
    etcd.kill(1);
    try {
      const started = Date.now();
      expect(await codeOf(ham.ckpt_read(handle, "q"))).toBe("ETIMEDOUT");
      expect(Date.now() - started).toBeLessThan(6_000);
      expect(["ETIMEDOUT", "EPERM"]).toContain(await codeOf(ham.ckpt_write(handle, "q", "during")));
    } finally {
      etcd.restart(0);
      etcd.restart(1);
    }
    await etcd.healthy(15_000);
    const back = await oneActive(null, 20_000);
    const writer = await open(back.entity.slice(back.entity.indexOf("@") + 1), "quorum");
    expect((await ham.ckpt_read(writer, "q")).toString()).toBe("before");
    expect(await ham.ckpt_write(writer, "q", "after")).toBe(0);
  }, 60_000);
});
