import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, eventually, HAMCTL_BIN, isAlive, startHam, tempDir, track, type HamInstance } from "../helpers/ham-instance.js";
import { killHam, status } from "../helpers/takeover.js";
import { memberEntity } from "../helpers/members.js";
import type { GroupRow } from "../../dist/lib/wire/ps-row.js";

// Service groups with real member processes (test/fixtures/member.mjs, which logs each role it
// acknowledges), a real HAM and its Guardian, hamctl as a process.

afterEach(cleanup);

const hamctl = (instance: HamInstance, ...args: string[]) =>
  spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, ...args], { encoding: "utf8" });

interface Setup {
  readonly instance: HamInstance;
  readonly log: string;
}

// Two members a and b in a 2N group, from a config file; each restarted by its death condition.
async function twoMembers(extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<Setup> {
  const dir = tempDir("groups");
  const log = join(dir, "roles.log");
  writeFileSync(log, "");
  const config = join(dir, "group.json");
  writeFileSync(config, JSON.stringify({ entities: [memberEntity("a"), memberEntity("b")], groups: [{ name: "g", model: "2N", members: ["a", "b"], ...extra }] }));
  const instance = await startHam(["--config", config], { MEMBER_LOG: log, ...env });
  return { instance, log };
}

async function groupOf(instance: HamInstance): Promise<GroupRow | undefined> {
  const now = (await status(instance.runDir)) as unknown as { groups: GroupRow[] };
  return now.groups.find((group) => group.name === "g");
}

// Waits until the group's acknowledged roles are these.
async function roles(instance: HamInstance, active: string, standby: string, timeoutMs = 10_000): Promise<GroupRow> {
  return eventually(async () => {
    const group = await groupOf(instance);
    return group?.active.join() === active && group.standby.join() === standby && group.members.every((member) => member.assigning === null) ? group : null;
  }, timeoutMs, `${active} active and ${standby} standby`);
}

// The first member to register is made active: whichever it was, the two roles settle.
async function settled(instance: HamInstance): Promise<{ active: string; standby: string }> {
  const group = await eventually(async () => {
    const found = await groupOf(instance);
    return found?.active.length === 1 && found.standby.length === 1 && found.members.every((member) => member.assigning === null) ? found : null;
  }, 10_000, "an active and a standby");
  return { active: group.active[0] ?? "", standby: group.standby[0] ?? "" };
}

async function pidOf(instance: HamInstance, name: string): Promise<number> {
  return track(Number(await instance.field(`/${name}/.info`, "Entity Pid")));
}

function acknowledged(log: string): Array<{ at: number; entity: string; pid: number; role: string }> {
  return readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => {
    const [at = "", entity = "", pid = "", role = ""] = line.split(" ");
    return { at: Number(at), entity, pid: Number(pid), role };
  });
}

describe("service groups", () => {
  it("makes the standby active when the active is killed, restarts the old one as standby, and shows it all", async () => {
    const { instance, log } = await twoMembers();
    const { active, standby } = await settled(instance);
    const old = await pidOf(instance, active);
    process.kill(old, "SIGKILL");
    const group = await roles(instance, standby, active);
    expect(group).toMatchObject({ failovers: 1, failures: 1 });
    expect(group.lastFailoverMs).toBeGreaterThanOrEqual(0);
    const restarted = await pidOf(instance, active);
    expect(restarted).not.toBe(old);
    // The restarted member acknowledged standby from its new process; the standby acknowledged active.
    const seen = acknowledged(log);
    expect(seen).toContainEqual(expect.objectContaining({ entity: active, pid: restarted, role: "standby" }));
    expect(seen).toContainEqual(expect.objectContaining({ entity: standby, role: "active" }));

    const info = await instance.cat("/.groups/g/.info");
    expect(info).toMatch(/^Group +: g$/m);
    expect(info).toMatch(new RegExp(`^Member ${active} +: standby$`, "m"));
    expect(info).toMatch(new RegExp(`^Member ${standby} +: active$`, "m"));
    expect(info).toMatch(/^Failovers +: 1$/m);
    expect(info).toMatch(/^Availability +: \d+(\.\d+)? %$/m);
    const ps = hamctl(instance, "ps");
    expect(ps.status).toBe(0);
    expect(ps.stdout).toMatch(new RegExp(`\n${standby} +\\d+ +running +g:active `));
    expect(ps.stdout).toMatch(new RegExp(`\nGROUP +MODEL +ACTIVE +STANDBY +FAILOVERS +LAST FAILOVER +SWITCHOVERS +AVAIL %\ng +2N +${standby} +${active} +1 +\\d+ ms +0 +\\d+\\.\\d{3}\n`));
    const rows = JSON.parse(hamctl(instance, "ps", "--json").stdout) as Array<Record<string, unknown>>;
    expect(rows.find((row) => row["name"] === active)).toMatchObject({ group: "g", role: "standby" });
    expect(hamctl(instance, "ls", "/.groups").stdout).toBe("g\n");
  });

  it("switches over with hamctl switchover, in order, and says how long it took", async () => {
    const { instance, log } = await twoMembers();
    const { active: a, standby: b } = await settled(instance);
    const before = acknowledged(log).length;
    const result = hamctl(instance, "switchover", "g");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^g: ${a} -> ${b} in \\d+ ms\n$`));
    const group = await roles(instance, b, a);
    expect(group).toMatchObject({ switchovers: 1, failovers: 0 });
    expect(acknowledged(log).slice(before).map((line) => `${line.entity}:${line.role}`)).toEqual([`${a}:quiescing`, `${a}:quiesced`, `${b}:active`, `${a}:standby`]);
    // Nothing to hand over to: a one-line error and exit 1.
    const none = hamctl(instance, "switchover", "nope");
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^hamctl: .*no group nope\n$/);
  });

  it("keeps the roles across a HAM takeover, and fails over after it", async () => {
    const { instance } = await twoMembers();
    const { active, standby } = await settled(instance);
    const a = await pidOf(instance, active);
    const b = await pidOf(instance, standby);
    await killHam(instance);
    const kept = await roles(instance, active, standby);
    expect(kept.failovers).toBe(0);
    expect([await pidOf(instance, active), await pidOf(instance, standby)]).toEqual([a, b]);
    process.kill(a, "SIGKILL");
    expect((await roles(instance, standby, active)).failovers).toBe(1);
    expect(isAlive(b)).toBe(true);
  });

  it("fails the group over on a fatal fault: the active is killed first, then the standby serves", async () => {
    const { instance, log } = await twoMembers();
    const { active, standby } = await settled(instance);
    const a = await pidOf(instance, active);
    expect(hamctl(instance, "raise", active, "1", "1", "3").status).toBe(0);
    await roles(instance, standby, active);
    expect(isAlive(a)).toBe(false);
    // b acknowledged active only after the old a was dead: its death came first in the HAM's log.
    const lines = instance.logLines();
    const fence = lines.findIndex((line) => line["event"] === "fence");
    const death = lines.findIndex((line) => line["event"] === "death" && line["pid"] === a);
    const failover = lines.findIndex((line) => line["event"] === "failover");
    expect(fence).toBeGreaterThanOrEqual(0);
    expect(death).toBeGreaterThan(fence);
    expect(failover).toBeGreaterThan(death);
    expect(acknowledged(log).filter((line) => line.pid === a && line.role !== "registered").map((line) => line.role)).toEqual(["active"]);
  });

  it("fails a member that refuses its role, and one that never acknowledges it", async () => {
    const { instance } = await twoMembers({ ackTimeoutMs: 300 }, { MEMBER_SILENT: "quiesced" });
    const { active, standby } = await settled(instance);
    const a = await pidOf(instance, active);
    // The active never acknowledges quiesced: 300 ms later it is killed and the standby takes over;
    // the HAM answers the waiting switchover with the reason it was abandoned.
    const abandoned = hamctl(instance, "switchover", "g");
    expect(abandoned.status).toBe(1);
    expect(abandoned.stderr).toMatch(/abandoned: .*failed/);
    await roles(instance, standby, active);
    expect(isAlive(a)).toBe(false);
    expect(instance.logLines().some((line) => line["event"] === "member-failed" && String(line["reason"]).includes("did not acknowledge"))).toBe(true);
  });
});
