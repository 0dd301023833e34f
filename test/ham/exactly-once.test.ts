import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { Session } from "../../dist/lib/client/session.js";
import { cleanup, entityPid, eventually, HAMCTL_BIN, startHam, tempDir, track, type HamInstance } from "../helpers/ham-instance.js";
import { memberEntity } from "../helpers/members.js";
import { guardianReady, processesOf, status } from "../helpers/takeover.js";

// Every mutating request is exactly-once across a takeover (issue 16). The fail point
// journal-write:<op> kills the HAM (SIGKILL) right after the first write of the shared state made
// while it handles a request `op`: the change and its reply are written, the reply is not sent.
// The client library sends the request again to the HAM that took over, which must answer it
// with that first answer and hold the change once. Each case asserts the HAM really died there
// (one HAM failure), what the call resolved to, and the state.

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

// A HAM that dies at `op`'s journal write, with a ready Guardian, as the ham_* calls' default HAM.
async function hamDyingAt(op: string, extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<HamInstance> {
  const instance = await startHam(extraArgs, { HAMD_FAILPOINT: `journal-write:${op}`, ...env });
  process.env["HAM_RUN_DIR"] = instance.runDir;
  await guardianReady(instance.runDir);
  await ham.ham_connect(0);
  return instance;
}

// The HAM died once (at the fail point) and its Guardian answers.
async function tookOverOnce(instance: HamInstance): Promise<void> {
  expect((await status(instance.runDir)).hamFailures).toBe(1);
}

const field = (instance: HamInstance, path: string, label: string) => instance.field(path, label);

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  }
}

describe("exactly-once requests across a takeover (fail point at each op's journal write)", () => {
  it("attach (spawn): the entity and one process, the handle answered", async () => {
    const instance = await hamDyingAt("attach");
    const handle = await ham.ham_attach("svc", 0, -1, "/bin/sleep 1000", 0);
    expect(handle.ename).toBe("svc");
    await tookOverOnce(instance);
    const pid = await eventually(async () => track(await entityPid(instance, "svc")), 5_000, "svc's process");
    expect(processesOf(instance.runDir, "svc")).toEqual([pid]);
  });

  it("attach (pid): the entity once, the handle answered", async () => {
    const instance = await hamDyingAt("attach");
    const child = spawn("/bin/sleep", ["1000"], { stdio: "ignore" });
    track(child.pid ?? 0);
    const handle = await ham.ham_attach("watched", 0, child.pid ?? 0, null, 0);
    expect(handle.ename).toBe("watched");
    await tookOverOnce(instance);
    expect(await entityPid(instance, "watched")).toBe(child.pid);
    child.kill("SIGKILL");
  });

  it("attach_self and detach_self: attached once, then detached once", async () => {
    const attaching = await hamDyingAt("attach_self");
    const self = await ham.ham_attach_self("me", 0, 0, 0, 0);
    await tookOverOnce(attaching);
    // (Not entityPid: it marks the pid for the cleanup to end, and this one is the test's own.)
    expect(await field(attaching, "/me/.info", "Entity Pid")).toBe(String(process.pid));
    await ham.ham_detach_self(self, 0);
    await ham.ham_disconnect(0);
    await cleanup();
    const detaching = await hamDyingAt("detach_self");
    const again = await ham.ham_attach_self("me", 0, 0, 0, 0);
    await ham.ham_detach_self(again, 0);
    await tookOverOnce(detaching);
    expect((await status(detaching.runDir)).entities).toBe(0);
  });

  it("detach: answered 0, not ENOENT", async () => {
    const instance = await hamDyingAt("detach");
    const entity = await ham.ham_entity("gone", 0, 0);
    expect(await ham.ham_detach(entity, 0)).toBe(0);
    await tookOverOnce(instance);
    expect((await status(instance.runDir)).entities).toBe(0);
  });

  it("entity: a placeholder made once", async () => {
    const instance = await hamDyingAt("entity");
    expect((await ham.ham_entity("ph", 0, 0)).ename).toBe("ph");
    await tookOverOnce(instance);
    expect(await field(instance, "/ph/.info", "Entity type")).toMatch(/placeholder|PLACEHOLDER/i);
  });

  it("entity_condition_raise and entity_condition_state: each condition fired once", async () => {
    for (const [op, report] of [
      ["entity_condition_raise", (e: ham.ham_entity_t) => ham.ham_entity_condition_raise(e, 5, 3, 0, 0)],
      ["entity_condition_state", (e: ham.ham_entity_t) => ham.ham_entity_condition_state(e, 4, 0)],
    ] as const) {
      const instance = await hamDyingAt(op);
      const entity = await ham.ham_entity("reporter", 0, 0);
      const raised = await ham.ham_condition_raise(entity, "raised", 5, 3, 0, 0);
      await ham.ham_action_log(raised, "note", "raised", 0, 1, 0);
      const changed = await ham.ham_condition_state(entity, "changed", 0, 4, 0);
      await ham.ham_action_log(changed, "note", "changed", 0, 1, 0);
      expect(await report(entity)).toBe(0);
      await tookOverOnce(instance);
      const cname = op === "entity_condition_raise" ? "raised" : "changed";
      expect(await field(instance, `/reporter/${cname}/.info`, "Times Fired")).toBe("1");
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("policy: set once, answered 0", async () => {
    const instance = await hamDyingAt("policy");
    const entity = await ham.ham_entity("pol", 0, 0);
    expect(await ham.ham_entity_policy(entity, { minUptimeMs: 250 })).toBe(0);
    await tookOverOnce(instance);
    expect(await field(instance, "/pol/.info", "Min Uptime")).toBe("250 ms");
  });

  it("condition, condition_state, condition_raise: made once, answered with the handle, not EEXIST", async () => {
    for (const [op, make] of [
      ["condition", (e: ham.ham_entity_t) => ham.ham_condition(e, ham.CONDDEATH, "c", 0)],
      ["condition_state", (e: ham.ham_entity_t) => ham.ham_condition_state(e, "c", 1, 2, 0)],
      ["condition_raise", (e: ham.ham_entity_t) => ham.ham_condition_raise(e, "c", 1, 2, 3, 0)],
    ] as const) {
      const instance = await hamDyingAt(op);
      const entity = await ham.ham_entity("owner", 0, 0);
      expect((await make(entity)).cname).toBe("c");
      await tookOverOnce(instance);
      expect(await field(instance, "/owner/.info", "Num conditions")).toBe("1");
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("condition_remove, action, action_remove, action_fail, action_fail_remove, control: each answered as the first time", async () => {
    const steps = ["condition_remove", "action", "action_remove", "action_fail", "action_fail_remove", "control"] as const;
    for (const op of steps) {
      const instance = await hamDyingAt(op);
      const entity = await ham.ham_entity("items", 0, 0);
      const condition = await ham.ham_condition(entity, ham.CONDDEATH, "death", 0);
      let answer: unknown;
      if (op === "condition_remove") answer = await ham.ham_condition_remove(condition, 0);
      else {
        const action = await ham.ham_action_log(condition, "note", "died", 0, 1, 0);
        if (op === "action") answer = action.aname;
        if (op === "action_remove") answer = await ham.ham_action_remove(action, 0);
        if (op === "action_fail" || op === "action_fail_remove") answer = await ham.ham_action_fail_log(action, "also", "failed", 0, 1, 0);
        if (op === "action_fail_remove") answer = await ham.ham_action_fail_remove(action, "also", 0);
        if (op === "control") answer = await ham.ham_action_control(action, ham.HDISABLE, 0);
      }
      await tookOverOnce(instance);
      const actions = op === "condition_remove" ? "" : await field(instance, "/items/death/.info", "Num Actions");
      const expected = {
        condition_remove: [0, ""], action: ["note", "1"], action_remove: [0, "0"], action_fail: [0, "1"], action_fail_remove: [0, "1"], control: [0, "1"],
      }[op];
      expect([answer, actions], op).toEqual(expected);
      if (op === "condition_remove") expect(await field(instance, "/items/.info", "Num conditions")).toBe("0");
      if (op === "control") expect(await instance.cat("/items/death/note")).toMatch(/Enabled *: NO/);
      if (op === "action_fail") expect(await instance.cat("/items/death/note")).toMatch(/also/);
      if (op === "action_fail_remove") expect(await instance.cat("/items/death/note")).not.toMatch(/also/);
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("verbose: raised by one, not two", async () => {
    const instance = await hamDyingAt("verbose");
    expect(await ham.ham_verbose(null, ham.VERBOSE_SET_INCR, 1)).toBe(0);
    await tookOverOnce(instance);
    // startHam runs the HAM at -V3.
    expect(await ham.ham_verbose(null, ham.VERBOSE_GET, 0)).toBe(4);
  });

  it("group_create, group_member_add, group_member_remove, group_delete: answered as the first time, not EEXIST, EBUSY or ENOENT", async () => {
    for (const op of ["group_create", "group_member_add", "group_member_remove", "group_delete"] as const) {
      const instance = await hamDyingAt(op);
      await ham.ham_entity("m1", 0, 0);
      await ham.ham_entity("m2", 0, 0);
      const answers: unknown[] = [];
      answers.push(await ham.ham_group_create("g", { model: "2N", members: ["m1"] }));
      if (op !== "group_create") answers.push(await ham.ham_group_member_add("g", "m2"));
      if (op === "group_member_remove") answers.push(await ham.ham_group_member_remove("g", "m2"));
      if (op === "group_delete") answers.push(await ham.ham_group_delete("g"));
      await tookOverOnce(instance);
      expect(answers, op).toEqual(["g", 0, 0, 0].slice(0, answers.length));
      const groups = ((await status(instance.runDir)) as unknown as { groups: Array<{ name: string; members: Array<{ name: string }> }> }).groups;
      const members = { group_create: ["m1"], group_member_add: ["m1", "m2"], group_member_remove: ["m1"], group_delete: null }[op];
      expect(groups.find((group) => group.name === "g")?.members.map((member) => member.name) ?? null, op).toEqual(members);
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("ckpt_open, ckpt_write, ckpt_delete, ckpt_unlink: answered as the first time, not EEXIST or ENOENT", async () => {
    for (const op of ["ckpt_open", "ckpt_write", "ckpt_delete", "ckpt_unlink"] as const) {
      const instance = await hamDyingAt(op);
      const handle = await ham.ckpt_open("ck", { maxSections: 4 });
      const answers: unknown[] = [];
      if (op !== "ckpt_open") answers.push(await ham.ckpt_write(handle, "s", "hello"));
      if (op === "ckpt_delete") answers.push(await ham.ckpt_delete(handle, "s"));
      if (op === "ckpt_unlink") answers.push(await ham.ckpt_unlink("ck"));
      await tookOverOnce(instance);
      expect(answers.every((answer) => answer === 0), `${op}: ${JSON.stringify(answers)}`).toBe(true);
      if (op === "ckpt_write") expect((await ham.ckpt_read(handle, "s")).toString()).toBe("hello");
      if (op === "ckpt_delete") expect(await ham.ckpt_sections(handle)).toEqual([]);
      if (op === "ckpt_unlink") expect(await rejection(ham.ckpt_read(handle, "s"))).toBe("EIDRM");
      if (op !== "ckpt_unlink") await ham.ckpt_close(handle);
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("channel_create and channel_close: one channel, closed once", async () => {
    const creating = await hamDyingAt("channel_create");
    const channel = await ham.ham_channel_create(() => undefined);
    await tookOverOnce(creating);
    expect(channel.pid).toBe(process.pid);
    const entity = await ham.ham_entity("pulsed", 0, 0);
    const condition = await ham.ham_condition_raise(entity, "raised", 1, 1, 0, 0);
    await ham.ham_action_notify_pulse(condition, "pulse", 0, channel.pid, channel.chid, 7, 1, 0);
    await channel.close();
    await ham.ham_disconnect(0);
    await cleanup();
    const closing = await hamDyingAt("channel_close");
    const other = await ham.ham_channel_create(() => undefined);
    expect(await rejection(other.close())).toBe("resolved");
    await tookOverOnce(closing);
  });

  it("apply (a config file): answered with the first apply's summary, its process started once", async () => {
    const instance = await hamDyingAt("apply");
    const dir = tempDir("exactly-once");
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ entities: [{ name: "applied", command: "/bin/sleep 1000" }] }));
    const session = await Session.open(instance.runDir);
    try {
      const answer = await session.request("apply", { text: readFileSync(file, "utf8"), source: file });
      // The first apply added the entity (a second one would find nothing to do).
      expect(JSON.stringify(answer)).toMatch(/applied|added|1/);
      const fresh = await Session.open(instance.runDir);
      const noChange = await fresh.request("apply", { text: readFileSync(file, "utf8"), source: file });
      fresh.close();
      expect(answer).not.toEqual(noChange);
    } finally {
      session.close();
    }
    await tookOverOnce(instance);
    const pid = await eventually(async () => track(await entityPid(instance, "applied")), 5_000, "applied's process");
    expect(processesOf(instance.runDir, "applied")).toEqual([pid]);
  });

  it("restart (hamctl restart): the process restarted once, not its replacement killed too", async () => {
    const instance = await hamDyingAt("restart");
    const entity = await ham.ham_attach("svc", 0, -1, "/bin/sleep 1000", 0);
    const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(death, "restart", "/bin/sleep 1000", ham.HREARMAFTERRESTART);
    await ham.ham_entity_policy(entity, { minUptimeMs: 0 });
    const first = track(await entityPid(instance, "svc"));
    const restarted = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "restart", "svc"], { encoding: "utf8", timeout: 20_000 });
    expect(restarted.stderr).toBe("");
    expect(restarted.status).toBe(0);
    await tookOverOnce(instance);
    const next = await eventually(async () => {
      const pid = await entityPid(instance, "svc");
      return pid > 0 && pid !== first ? track(pid) : 0;
    }, 5_000, "svc restarted");
    expect(processesOf(instance.runDir, "svc")).toEqual([next]);
    expect(await field(instance, "/svc/.info", "Num Restarts")).toBe("1");
  });
});

describe("exactly-once requests of service groups across a takeover", () => {
  // Two members a and b of a 2N group, from a config file; each logs the roles it acknowledges.
  // `made: false`: the members run, the group is for the test to make.
  async function group(op: string, made = true): Promise<{ instance: HamInstance; log: string }> {
    const dir = tempDir("exactly-once-group");
    const log = join(dir, "roles.log");
    writeFileSync(log, "");
    const config = join(dir, "group.json");
    const groups = made ? [{ name: "g", model: "2N", members: ["a", "b"] }] : [];
    writeFileSync(config, JSON.stringify({ entities: [memberEntity("a"), memberEntity("b")], groups }));
    const instance = await hamDyingAt(op, ["--config", config], { MEMBER_LOG: log });
    return { instance, log };
  }

  interface GroupRow { name: string; active: string[]; standby: string[]; switchovers: number; members: Array<{ name: string; assigning: unknown }> }
  const groupOf = async (instance: HamInstance): Promise<GroupRow | undefined> =>
    ((await status(instance.runDir)) as unknown as { groups: GroupRow[] }).groups.find((row) => row.name === "g");
  const settled = (instance: HamInstance) => eventually(async () => {
    const row = await groupOf(instance);
    return row?.active.length === 1 && row.standby.length === 1 && row.members.every((member) => member.assigning === null) ? row : null;
  }, 15_000, "an acknowledged active and standby");
  // Each member's own reports: how many times each said it was active, per process.
  const activeReports = (log: string) => readFileSync(log, "utf8").split("\n").filter((line) => line.endsWith(" active"));

  it("role_register and role_ack: the group settles with one active and one standby, each role acknowledged once per process", async () => {
    for (const op of ["role_register", "role_ack"]) {
      const { instance, log } = await group(op);
      const row = await settled(instance);
      await tookOverOnce(instance);
      for (const name of ["a", "b"]) track(await entityPid(instance, name));
      // One member process said active, once; no process restarted (neither was killed).
      const reports = activeReports(log);
      expect(reports, op).toHaveLength(1);
      expect(reports[0], op).toContain(` ${row.active[0]} `);
      expect(readFileSync(log, "utf8").split("\n").filter((line) => line.endsWith(" registered")), op).toHaveLength(2);
      await ham.ham_disconnect(0);
      await cleanup();
    }
  });

  it("group_create of running members: answered once, though its roles were written before its reply (not EEXIST)", async () => {
    const { instance, log } = await group("group_create", false);
    await eventually(() => readFileSync(log, "utf8").split("\n").filter((line) => line.endsWith(" registered")).length === 2, 10_000, "both members registered");
    for (const name of ["a", "b"]) track(await entityPid(instance, name));
    expect(await ham.ham_group_create("g", { model: "2N", members: ["a", "b"] })).toBe("g");
    await tookOverOnce(instance);
    await settled(instance);
    expect(activeReports(log)).toHaveLength(1);
  });

  it("group_switchover, not waited for: answered with who goes and who comes, not EBUSY, one switchover", async () => {
    const { instance } = await group("group_switchover");
    const before = await settled(instance);
    for (const name of ["a", "b"]) track(await entityPid(instance, name));
    const started = await ham.ham_group_switchover("g");
    expect(started).toEqual({ from: before.active[0], to: before.standby[0], switchover: 1 });
    await tookOverOnce(instance);
    const after = await eventually(async () => {
      const row = await settled(instance);
      return row.switchovers === 1 ? row : null;
    }, 15_000, "the switchover done");
    expect({ active: after.active, standby: after.standby }).toEqual({ active: before.standby, standby: before.active });
  });

  it("group_switchover, waited for: answered once it is done, by the HAM that took over, one switchover counted", async () => {
    const { instance, log } = await group("group_switchover");
    const before = await settled(instance);
    for (const name of ["a", "b"]) track(await entityPid(instance, name));
    const done = await ham.ham_group_switchover("g", null, { wait: true });
    expect({ from: done.from, to: done.to }).toEqual({ from: before.active[0], to: before.standby[0] });
    expect(done.ms).toBeGreaterThanOrEqual(0);
    await tookOverOnce(instance);
    const after = await settled(instance);
    expect({ active: after.active, standby: after.standby, switchovers: after.switchovers }).toEqual({ active: before.standby, standby: before.active, switchovers: 1 });
    expect(activeReports(log)).toHaveLength(2);
  });
});
