import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { Members, type Belief } from "../helpers/beliefs.js";
import { cleanup, eventually, isAlive, killRunDir, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";
import { memberEntity } from "../helpers/members.js";
import { guardianReady, status } from "../helpers/takeover.js";

// Service groups across nodes (issue 17): a 2N group g = [db@n1, db@n2] on a real 3-member etcd,
// two real HAM nodes in their own run directories, member processes (test/fixtures/member.mjs)
// that log every role they take, from which a checker samples what the members believe every
// few ms and fails on two actives. The tests run in order on the same cluster.

interface GroupRow { name: string; active: string[]; standby: string[]; members: Array<{ name: string; assigning: string | null }> }

const TTL_MS = 2_000;

// Which etcd member leads, from etcd's JSON gateway (/v3/maintenance/status).
async function leaderIndex(endpoints: string[]): Promise<number> {
  for (const [index, url] of endpoints.entries()) {
    const answer = (await (await fetch(`${url}/v3/maintenance/status`, { method: "POST", body: "{}" })).json()) as { header: { member_id: string }; leader: string };
    if (answer.header.member_id === answer.leader) return index;
  }
  throw new Error("no etcd member leads");
}

describeWithEtcd("a cluster of HAMs: service groups across nodes", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let log: string;
  const nodes: Record<string, HamInstance> = {};

  let members: Members;
  const beliefs = (): Map<number, Belief> => members.read();
  const activeNow = (): Belief[] => members.activeNow();
  const oneActive = (where: string | null = null, timeoutMs = 10_000): Promise<Belief> => members.oneActive(where, timeoutMs);
  const standbyOn = (name: string, timeoutMs = 10_000): Promise<Belief> => members.standbyOn(name, timeoutMs);
  const makeActive = (name: string): Promise<Belief> => members.makeActive(name);

  async function startNode(name: string): Promise<HamInstance> {
    const config = join(dir, `${name}.json`);
    writeFileSync(config, JSON.stringify({ entities: [memberEntity("db")], groups: [{ name: "g", model: "2N", members: ["db@n1", "db@n2"] }] }));
    nodes[name] = await startHam(["--node", name, "--etcd", etcd.endpoints.join(","), "--config", config], { MEMBER_LOG: log, MEMBER_NODE: name });
    return nodes[name];
  }

  const node = (name: string): HamInstance => nodes[name] ?? (() => { throw new Error(`no ${name}`); })();

  async function groupOn(name: string): Promise<GroupRow | undefined> {
    const now = (await status(node(name).runDir).catch(() => ({ groups: [] }))) as unknown as { groups: GroupRow[] };
    return now.groups.find((group) => group.name === "g");
  }

  beforeAll(async () => {
    dir = tempDir("cluster-groups");
    log = join(dir, "roles.log");
    members = new Members(log);
    writeFileSync(log, "");
    etcd = await EtcdCluster.start(3);
    await Promise.all(["n1", "n2"].map((name) => startNode(name)));
    members.startChecker();
  }, 40_000);

  afterAll(async () => {
    await cleanup();
    etcd?.stop();
    console.log(members.stopChecker());
  });

  it("gets exactly one active across n1 and n2, the other member standby", async () => {
    const active = await oneActive();
    const other = active.entity === "db@n1" ? "n2" : "n1";
    await standbyOn(other);
    const on = await eventually(async () => {
      const rows = await Promise.all(["n1", "n2"].map((name) => groupOn(name)));
      return rows.every((row) => row !== undefined && row.members.every((member) => member.assigning === null)) ? rows : null;
    }, 5_000, "both nodes settled");
    expect(on.map((row) => row?.active.length).sort()).toEqual([0, 1]);
    const holder = active.entity.slice(active.entity.indexOf("@") + 1);
    expect(on.map((row) => row?.cluster)).toEqual(["n1", "n2"].map((name) => ({
      members: ["db@n1", "db@n2"], holder, token: name === holder ? expect.stringMatching(/^\d+$/) : null, waiting: [],
    })));
    expect(await node(holder).cat("/.groups/g/.info")).toMatch(new RegExp(`Held By +: ${holder} \\(token \\d+\\)\nWaiting For +: -`));
    expect(members.violations).toEqual([]);
  });

  it("a HAM takeover on the active's node is not a failover: the member stays active (its lease renewed by the new HAM)", async () => {
    const active = await makeActive("n1");
    const { hamPid } = await guardianReady(node("n1").runDir);
    process.kill(hamPid, "SIGKILL");
    await eventually(async () => (await status(node("n1").runDir).catch(() => ({ hamPid }))).hamPid !== hamPid, 10_000, "the Guardian to take over");
    // Two TTLs: a member whose lease was not renewed would have dropped active by then.
    const since = Date.now();
    await eventually(() => Date.now() - since > 2 * TTL_MS, 3 * TTL_MS + 2_000, "two TTLs");
    expect(beliefs().get(active.pid)).toMatchObject({ role: "active" });
    // Under load (the whole suite on 2 cores) a takeover can outlast the role's lease: the member
    // then drops active on its own (safe) and the new HAM's renewal gives it back.
    const drops = readFileSync(log, "utf8").split("\n").filter((line) => line.includes(` ${active.pid} `) && line.endsWith(" lease"));
    if (drops.length > 0) console.log(`takeover outlasted the role's lease: ${drops.length} drop(s), given back`);
    expect(isAlive(active.pid)).toBe(true);
    expect(members.violations).toEqual([]);
  }, 20_000);

  it("SIGKILL of the active member: the other node's standby becomes active; the member is restarted as standby", async () => {
    const active = await makeActive("n1");
    const killedAt = Date.now();
    process.kill(active.pid, "SIGKILL");
    const next = await oneActive("n2");
    console.log(`member death on n1 -> db@n2 active in ${next.at - killedAt} ms (member clocks)`);
    const restarted = await standbyOn("n1");
    expect(restarted.pid).not.toBe(active.pid);
    expect(members.violations).toEqual([]);
  });

  it("node death (SIGKILL of n1's HAM, Guardian and members): n2 active within TTL + 1 s or so", async () => {
    await makeActive("n1");
    const { hamPid, guardianPid } = await guardianReady(node("n1").runDir);
    const killedAt = Date.now();
    // The HAM's own environment does not carry HAM_RUN_DIR (it sets it itself): killed by pid.
    process.kill(guardianPid, "SIGKILL");
    process.kill(hamPid, "SIGKILL");
    await killRunDir(node("n1").runDir);
    const next = await oneActive("n2", 15_000);
    const took = next.at - killedAt;
    console.log(`node death of n1 -> db@n2 active in ${took} ms (TTL ${TTL_MS} ms)`);
    expect(took).toBeLessThan(6_000);
    expect(members.violations).toEqual([]);
    await node("n1").stop();
    await startNode("n1");
    await standbyOn("n1");
  }, 30_000);

  it("SIGSTOP of n1's HAM and Guardian: its member drops active on its own before n2's is active; SIGCONT: n1 demotes, its member comes back standby", async () => {
    const active = await makeActive("n1");
    const { hamPid, guardianPid } = await guardianReady(node("n1").runDir);
    const stoppedAt = Date.now();
    process.kill(guardianPid, "SIGSTOP");
    process.kill(hamPid, "SIGSTOP");
    try {
      const next = await oneActive("n2", 15_000);
      const dropped = [...readFileSync(log, "utf8").split("\n")].find((line) => line.includes(` ${active.pid} quiesced lease`));
      expect(dropped, "db@n1 dropped active on its own").toBeDefined();
      const droppedAt = Number(dropped?.split(" ")[0]);
      console.log(`hang of n1: db@n1 dropped active ${droppedAt - stoppedAt} ms after SIGSTOP; db@n2 active ${next.at - stoppedAt} ms after`);
      expect(droppedAt).toBeLessThanOrEqual(next.at);
    } finally {
      process.kill(hamPid, "SIGCONT");
      process.kill(guardianPid, "SIGCONT");
    }
    await eventually(() => node("n1").logLines().some((line) => line["event"] === "quiesce" || line["event"] === "lease-expiring"), 5_000, "n1 to see its deadline passed");
    await eventually(() => [...beliefs().values()].some((belief) => belief.entity === "db@n1" && belief.role === "standby" && isAlive(belief.pid)), 10_000, "db@n1 standby again");
    await oneActive("n2");
    expect(members.violations).toEqual([]);
  }, 30_000);

  it("one etcd member (a follower) down changes nothing: the same member stays active", async () => {
    const active = await oneActive();
    const member = ((await leaderIndex(etcd.endpoints)) + 1) % etcd.endpoints.length;
    etcd.kill(member);
    try {
      const since = Date.now();
      await eventually(() => Date.now() - since > 2 * TTL_MS, 3 * TTL_MS + 2_000, "two TTLs");
      expect(activeNow()).toEqual([active]);
      expect(readFileSync(log, "utf8").split("\n").filter((line) => line.includes(` ${active.pid} `) && line.endsWith(" lease"))).toEqual([]);
    } finally {
      etcd.restart(member);
      await etcd.healthy(10_000);
    }
  }, 20_000);

  it("the etcd leader killed: never two actives, and an active again", async () => {
    await oneActive();
    const leader = await leaderIndex(etcd.endpoints);
    const killedAt = Date.now();
    etcd.kill(leader);
    try {
      // Two TTLs for the fallout (keepalives stall until a new leader; a deadline may pass).
      await eventually(() => Date.now() - killedAt > 2 * TTL_MS, 3 * TTL_MS + 2_000, "two TTLs");
      const back = await oneActive(null, 10_000);
      console.log(`etcd leader killed: ${back.entity} active (again) ${Math.max(0, back.at - killedAt)} ms after the kill`);
    } finally {
      etcd.restart(leader);
      await etcd.healthy(10_000);
    }
    expect(members.violations).toEqual([]);
  }, 30_000);

  it("etcd quorum lost: the active quiesces at its deadline, local restarts go on; quorum back: an active again", async () => {
    const active = await oneActive();
    const standbyNode = active.entity === "db@n1" ? "n2" : "n1";
    const standby = await standbyOn(standbyNode);
    etcd.kill(0);
    etcd.kill(1);
    const lostAt = Date.now();
    try {
      await eventually(() => activeNow().length === 0, 10_000, "no member active");
      console.log(`quorum lost: no active member ${Date.now() - lostAt} ms later`);
      // A local restart goes on without etcd: the standby member killed comes back (standby).
      process.kill(standby.pid, "SIGKILL");
      await eventually(() => [...beliefs().values()].some((belief) => belief.entity === standby.entity && belief.pid !== standby.pid && belief.role === "standby" && isAlive(belief.pid)),
        10_000, `${standby.entity} restarted and standby`);
      const cluster = ((await status(node(standbyNode).runDir)) as unknown as { cluster: { etcd: string } }).cluster;
      expect(cluster.etcd).toBe("unreachable");
      expect(activeNow()).toEqual([]);
    } finally {
      etcd.restart(0);
      etcd.restart(1);
    }
    await etcd.healthy(15_000);
    const back = await oneActive(null, 20_000);
    console.log(`quorum back: ${back.entity} active ${back.at - lostAt} ms after the quorum was lost`);
    expect(members.violations).toEqual([]);
  }, 60_000);
});
