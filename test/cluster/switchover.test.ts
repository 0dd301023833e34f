import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { Members, type Belief } from "../helpers/beliefs.js";
import { cleanup, eventually, HAMCTL_BIN, startHam, tempDir, track, type HamInstance } from "../helpers/ham-instance.js";
import { memberEntity } from "../helpers/members.js";
import { guardianReady, status } from "../helpers/takeover.js";

// A switchover across nodes (issue 17; core/groups/cross-switchover.ts): a 2N group db =
// [db@n1, db@n2] on a real 3-member etcd, two real HAM nodes, member processes
// (test/fixtures/member.mjs) that log every role they take; a checker reads what the members
// believe every 5 ms and fails on two actives. The tests run in order on the same cluster; n1's
// HAM carries a fail point that kills it at its first switchover's journal write (the first test).

interface GroupRow { name: string; active: string[]; standby: string[]; switchovers: number; failovers: number; switchover: unknown; members: Array<{ name: string; assigning: string | null }> }
interface Ran { code: number | null; stdout: string; stderr: string }

// hamctl as a child process, without blocking this event loop (the checker keeps sampling).
function hamctl(runDir: string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HAMCTL_BIN, "--run-dir", runDir, ...args], { encoding: "utf8", timeout: 40_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describeWithEtcd("a cluster of HAMs: switchover across nodes", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let log: string;
  const nodes: Record<string, HamInstance> = {};

  let members: Members;
  const beliefs = (): Map<number, Belief> => members.read();
  const activeNow = (): Belief[] => members.activeNow();
  const oneActive = (where: string | null = null, timeoutMs = 10_000): Promise<Belief> => members.oneActive(where, timeoutMs);
  const standbyOn = (name: string, timeoutMs = 10_000): Promise<Belief> => members.standbyOn(name, timeoutMs);

  const node = (name: string): HamInstance => nodes[name] ?? (() => { throw new Error(`no ${name}`); })();
  const other = (name: string): string => (name === "n1" ? "n2" : "n1");

  async function groupOn(name: string): Promise<GroupRow> {
    const now = (await status(node(name).runDir)) as unknown as { groups: GroupRow[] };
    const row = now.groups.find((group) => group.name === "db");
    if (row === undefined) throw new Error(`no group db on ${name}`);
    return row;
  }

  // Both nodes settled: one active, the other standby, no role being acknowledged.
  async function settled(): Promise<string> {
    const active = await oneActive();
    const holder = active.entity.slice(active.entity.indexOf("@") + 1);
    await standbyOn(other(holder));
    await eventually(async () => {
      const rows = await Promise.all(["n1", "n2"].map((name) => groupOn(name)));
      return rows.every((row) => row.switchover === null && row.members.every((member) => member.assigning === null)) ? rows : null;
    }, 10_000, "both nodes settled");
    return holder;
  }

  beforeAll(async () => {
    dir = tempDir("cluster-switchover");
    log = join(dir, "roles.log");
    members = new Members(log);
    writeFileSync(log, "");
    etcd = await EtcdCluster.start(3);
    for (const name of ["n1", "n2"]) {
      const config = join(dir, `${name}.json`);
      writeFileSync(config, JSON.stringify({ entities: [memberEntity("db")], groups: [{ name: "db", model: "2N", members: ["db@n1", "db@n2"] }] }));
      const env: NodeJS.ProcessEnv = { MEMBER_LOG: log, MEMBER_NODE: name, ...(name === "n1" ? { HAMD_FAILPOINT: "journal-write:group_switchover" } : {}) };
      nodes[name] = await startHam(["--node", name, "--etcd", etcd.endpoints.join(","), "--config", config], env);
    }
    members.startChecker();
  }, 40_000);

  afterAll(async () => {
    await cleanup();
    etcd?.stop();
    console.log(members.stopChecker());
  });

  it("exactly once: n1's HAM killed at the switchover's first journal write; the request sent again is answered by its Guardian, one switchover", async () => {
    // n1 holds the group (its member active): if n2 does, its member killed moves it to n1.
    let holder = await settled();
    if (holder === "n2") {
      process.kill((await oneActive("n2")).pid, "SIGKILL");
      await oneActive("n1");
      holder = await settled();
    }
    expect(holder).toBe("n1");
    await guardianReady(node("n1").runDir);
    const before = await status(node("n1").runDir);
    const asked = await hamctl(node("n1").runDir, "switchover", "db");
    expect(asked.stderr).toBe("");
    expect(asked.stdout).toMatch(/^db: db@n1 -> db@n2 in \d+ ms\n$/);
    const after = await status(node("n1").runDir);
    expect(after.hamFailures).toBe(before.hamFailures + 1);
    await oneActive("n2");
    await standbyOn("n1");
    expect(await settled()).toBe("n2");
    expect((await groupOn("n1")).switchovers).toBe(1);
    expect(members.violations).toEqual([]);
  }, 60_000);

  it("asked on the holder: answered once the other node's member took over; the old active ends standby; one switchover counted, no failover", async () => {
    const holder = await settled();
    const target = other(holder);
    const before = await Promise.all([groupOn(holder), groupOn(target)]);
    const from = await oneActive(holder);
    const askedAt = Date.now();
    const asked = await hamctl(node(holder).runDir, "switchover", "db", "--json");
    expect(asked.stderr).toBe("");
    const answer = JSON.parse(asked.stdout) as { group: string; from: string; to: string; ms: number };
    expect(answer).toMatchObject({ group: "db", from: `db@${holder}`, to: `db@${target}` });
    const to = await oneActive(target);
    console.log(`switchover ${holder} -> ${target}: answered in ${answer.ms} ms; db@${target} active ${to.at - askedAt} ms after the request`);
    const back = await standbyOn(holder);
    expect(back.pid).toBe(from.pid);
    expect(await settled()).toBe(target);
    const after = await Promise.all([groupOn(holder), groupOn(target)]);
    expect(after[0].switchovers).toBe((before[0].switchovers) + 1);
    // The other node saw the key given up for a switchover: not a failover there.
    expect(after.map((row) => row.failovers)).toEqual(before.map((row) => row.failovers));
    expect(await node(holder).field("/.groups/db/.info", "Switchovers")).toBe(String(after[0].switchovers));
    expect(node(holder).logLines().some((line) => line["event"] === "switchover-done")).toBe(true);
    expect(members.violations).toEqual([]);
  }, 60_000);

  it("asked on the node that does not hold the group: forwarded to the holder, same result", async () => {
    const holder = await settled();
    const asker = other(holder);
    const asked = await hamctl(node(asker).runDir, "switchover", "db");
    expect(asked.stderr).toBe("");
    expect(asked.stdout).toMatch(new RegExp(`^db: db@${holder} -> db@${asker} in \\d+ ms\n$`));
    await oneActive(asker);
    expect(await settled()).toBe(asker);
    expect(members.violations).toEqual([]);
  }, 60_000);

  it("asked with --node of the node that does not hold it, from the holder: two hops (there and back), same result", async () => {
    const holder = await settled();
    const target = other(holder);
    const asked = await hamctl(node(holder).runDir, "--node", target, "switchover", "db");
    expect(asked.stderr).toBe("");
    expect(asked.stdout).toMatch(new RegExp(`^db: db@${holder} -> db@${target} in \\d+ ms\n$`));
    expect(await settled()).toBe(target);
    expect(members.violations).toEqual([]);
  }, 60_000);

  it("the other node's member is not standby (detached): abandoned after the yield window with the reason, the holder's member active again", async () => {
    const holder = await settled();
    const target = other(holder);
    const standby = await standbyOn(target);
    track(standby.pid);
    const detached = await hamctl(node(target).runDir, "detach", "db");
    expect(detached.code).toBe(0);
    const active = await oneActive(holder);
    const before = await groupOn(holder);
    const asked = await hamctl(node(holder).runDir, "switchover", "db");
    expect(asked.code).toBe(1);
    expect(asked.stderr).toMatch(/switchover of db abandoned: no other node took its election within 4000 ms/);
    // The same process, active again (it went quiescing, quiesced, standby, then active).
    const again = await oneActive(holder);
    expect(again.pid).toBe(active.pid);
    const after = await groupOn(holder);
    expect(after.switchovers).toBe(before.switchovers);
    expect(after.active).toEqual(["db"]);
    process.kill(standby.pid, "SIGKILL");
    expect(members.violations).toEqual([]);
  }, 60_000);
});
