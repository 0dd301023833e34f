import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { mayServe } from "../../dist/ham/core/groups/roles.js";
import { step } from "../../dist/ham/core/step.js";
import { takeOver, World } from "../helpers/core-world.js";

// Service groups in the core alone, on the manual clock: roles assigned and acknowledged,
// failovers, the fence, switchovers, fault severities, a takeover in the middle.

const caller = (world: World, name: string) => ({ pid: world.pid(name), token: `t-${name}` });

// Members a and b (spawned services with a death condition that restarts them), registered.
function group(model = "2N", members = ["a", "b"], extra: Record<string, unknown> = {}): World {
  const world = new World();
  for (const name of members) world.service(name);
  for (const name of members) world.request("role_register", { ename: name }, caller(world, name));
  world.request("group_create", { gname: "g", model, members, ...extra });
  return world;
}

// The member acknowledges the last role it was sent (ok or refused).
function ack(world: World, name: string, ok = true): void {
  const sent = world.roles.filter((role) => role.entity === name).at(-1);
  if (sent === undefined) throw new Error(`nothing sent to ${name}`);
  world.request("role_ack", { gname: "g", ename: name, seq: sent.seq, ok }, caller(world, name));
}

function roles(world: World): Record<string, string | null> {
  const g = world.state.groups.get("g");
  return Object.fromEntries((g?.members ?? []).map((member) => [member.name, member.role]));
}

// At most one member that may serve (acknowledged or sent active or quiescing).
function serving(world: World): string[] {
  return (world.state.groups.get("g")?.members ?? []).filter(mayServe).map((member) => member.name);
}

function settle2N(world: World): void {
  ack(world, "a");
  ack(world, "b");
  expect(roles(world)).toEqual({ a: "active", b: "standby" });
}

describe("service groups in the core", () => {
  it("assigns 2N roles in the members' order and acknowledges them", () => {
    const world = group();
    expect(world.roles.map((role) => [role.entity, role.role])).toEqual([["a", "active"], ["b", "standby"]]);
    expect(world.roles[0]?.token).toBe("t-a");
    settle2N(world);
    expect(serving(world)).toEqual(["a"]);
    expect(world.state.groups.get("g")?.counters.firstUpMs).toBe(world.wall);
  });

  it("fails over to the standby in the death's own transition, then relays the restarted member as standby", () => {
    const world = group();
    world.request("condition", { ename: "b", cname: "fo", type: Q.CONDGROUPFAILOVER, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: "b", cname: "fo", aname: "note", kind: "log", message: "failed over", verbosity: 1, flags: 0 });
    settle2N(world);
    const oldA = world.pid("a");
    world.mono += 3;
    world.kill("a");
    // a was restarted by its own death condition; b was sent active at once.
    expect(world.pid("a")).not.toBe(oldA);
    expect(world.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
    expect(serving(world)).toEqual(["b"]);
    world.mono += 2;
    ack(world, "b");
    const g = world.state.groups.get("g");
    expect(g?.counters).toMatchObject({ failovers: 1, failures: 1, lastFailoverMs: 2 });
    expect(world.log.map((line) => line.message)).toContain("failed over");
    // The new a registers from its new process and becomes the standby.
    world.request("role_register", { ename: "a" }, caller(world, "a"));
    expect(world.roles.at(-1)).toMatchObject({ entity: "a", role: "standby" });
    ack(world, "a");
    expect(roles(world)).toEqual({ a: "standby", b: "active" });
  });

  it.each([
    { how: "a fatal fault", fail: (world: World) => world.request("entity_condition_raise", { ename: "a", rtype: 1, rclass: 1, rseverity: Q.HAMFAULTFATAL }) },
    { how: "a refused role", fail: (world: World) => world.request("group_switchover", { gname: "g" }) && ack(world, "a", false) },
    { how: "a role not acknowledged in time", fail: (world: World) => { world.request("group_switchover", { gname: "g" }); world.advance(2_000); } },
  ])("fences the active before the standby serves, after $how", ({ fail }) => {
    const world = group();
    settle2N(world);
    let twoServing = false;
    const original = world.send.bind(world);
    world.send = (event) => {
      const effects = original(event);
      if (serving(world).length > 1) twoServing = true;
      return effects;
    };
    fail(world);
    expect(world.fenced).toEqual(["a"]);
    expect(twoServing).toBe(false);
    expect(world.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
    ack(world, "b");
    expect(world.state.groups.get("g")?.counters.failovers).toBe(1);
  });

  it("fails a member over when it misses heartbeats past its high threshold", () => {
    const world = new World();
    world.request("attach_self", { ename: "a", hp: 100e6, hpdl: 1, hpdh: 2, flags: 0 }, { pid: 50, token: "t-a" }, 7);
    world.request("attach_self", { ename: "b", hp: 100e6, hpdl: 1, hpdh: 2, flags: 0 }, { pid: 51, token: "t-b" }, 8);
    world.request("role_register", { ename: "a" }, { pid: 50, token: "t-a" });
    world.request("role_register", { ename: "b" }, { pid: 51, token: "t-b" });
    world.request("group_create", { gname: "g", model: "2N", members: ["a", "b"] });
    world.request("role_ack", { gname: "g", ename: "a", seq: 1, ok: true }, { pid: 50, token: "t-a" });
    world.request("role_ack", { gname: "g", ename: "b", seq: 2, ok: true }, { pid: 51, token: "t-b" });
    for (let i = 0; i < 5; i += 1) {
      world.send({ kind: "beat", at: world.at, pid: 51, entities: ["b"] });
      world.advance(100);
    }
    expect(world.fenced).toEqual(["a"]);
    expect(world.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
  });

  it("switches over gracefully: quiescing, quiesced, the standby active, the old active standby", () => {
    const world = group();
    world.request("condition", { ename: "a", cname: "so", type: Q.CONDGROUPSWITCHOVER, flags: 0 });
    world.request("action", { ename: "a", cname: "so", aname: "note", kind: "log", message: "switched", verbosity: 1, flags: 0 });
    settle2N(world);
    world.roles.length = 0;
    expect(world.request("group_switchover", { gname: "g" })).toEqual({ from: "a", to: "b", switchover: 1 });
    for (const name of ["a", "a", "b", "a"]) {
      expect(serving(world).length).toBeLessThanOrEqual(1);
      ack(world, name);
    }
    expect(world.roles.map((role) => [role.entity, role.role])).toEqual([["a", "quiescing"], ["a", "quiesced"], ["b", "active"], ["a", "standby"]]);
    expect(roles(world)).toEqual({ a: "standby", b: "active" });
    expect(world.state.groups.get("g")?.counters).toMatchObject({ switchovers: 1, failovers: 0 });
    expect(world.log.map((line) => line.message)).toContain("switched");
    expect(world.fenced).toEqual([]);
  });

  it("refuses a switchover without an acknowledged active and a ready standby", () => {
    const world = group();
    ack(world, "a");
    expect(() => world.request("group_switchover", { gname: "g" })).toThrow(/EBUSY/);
    expect(() => world.request("group_switchover", { gname: "nope" })).toThrow(/ENOENT/);
  });

  it("resends a role not yet acknowledged after a takeover, and counts the failover once acknowledged", () => {
    const world = group();
    settle2N(world);
    world.kill("a");
    const sent = world.roles.at(-1);
    expect(sent).toMatchObject({ entity: "b", role: "active" });
    const next = takeOver(world, { a: true, b: true });
    // The deadline is armed again; the role goes again when b's session says hello.
    expect([...next.timers.keys()].some((id) => id.startsWith("role:"))).toBe(true);
    next.send({ kind: "rebound", at: next.at, entities: [], token: "t-b" });
    expect(next.roles.at(-1)).toMatchObject({ entity: "b", role: "active", seq: sent?.seq });
    next.request("role_ack", { gname: "g", ename: "b", seq: sent?.seq ?? 0, ok: true }, { pid: next.pid("b"), token: "t-b" });
    expect(next.state.groups.get("g")?.counters.failovers).toBe(1);
    expect(next.state.meta.hamFailures).toBe(1);
  });

  it("kills again after a takeover a failed member the dead HAM marked but may not have killed", () => {
    const world = group();
    settle2N(world);
    // The HAM notes the fatal fault's fence and dies before its kill: the member still runs.
    const a = world.pid("a");
    const result = step(world.state, { kind: "request", at: world.at, ref: 99, op: "entity_condition_raise", args: { ename: "a", rtype: 1, rclass: 1, rseverity: Q.HAMFAULTFATAL }, caller: { pid: 1, token: null }, pidStart: null });
    expect(result.effects.map((effect) => effect.kind)).toContain("fence");
    world.state = result.state;
    const next = takeOver(world, { a: true, b: true });
    expect(next.fenced).toEqual(["a"]);
    expect(next.pid("a")).not.toBe(a);
    expect(next.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
  });

  it("chooses no other active while a failed member that was sent active is not yet dead", () => {
    const world = group("2N", ["a", "b"], { ackTimeoutMs: 300 });
    settle2N(world);
    world.fenceKills = false;
    world.kill("a");
    // b was sent active and never acknowledges it: it fails, and the fence is not done yet.
    world.advance(300);
    expect(world.fenced).toEqual(["b"]);
    // The restarted a comes back as a standby, not as the active: b may still serve.
    world.request("role_register", { ename: "a" }, caller(world, "a"));
    expect(world.roles.filter((role) => role.entity === "a").map((role) => role.role)).toEqual(["active", "standby"]);
    ack(world, "a");
    expect(serving(world)).toEqual(["b"]);
    // b's late acknowledgement changes nothing; its death does.
    world.request("role_ack", { gname: "g", ename: "b", seq: world.roles.find((role) => role.entity === "b" && role.role === "active")?.seq ?? 0, ok: true }, caller(world, "b"));
    world.kill("b");
    expect(world.roles.at(-1)).toMatchObject({ entity: "a", role: "active" });
    expect(serving(world)).toEqual(["a"]);
  });

  it("makes the quiescing active serve on when its switchover is abandoned", () => {
    const world = group();
    settle2N(world);
    world.request("group_switchover", { gname: "g" });
    world.kill("b");
    ack(world, "a");
    expect(world.roles.at(-1)).toMatchObject({ entity: "a", role: "active" });
    ack(world, "a");
    expect(world.state.groups.get("g")?.members.find((member) => member.name === "a")?.role).toBe("active");
  });

  it("deletes a group whose members serve only once they acknowledged quiesced", () => {
    const world = group();
    settle2N(world);
    world.request("group_delete", { gname: "g" });
    expect(world.roles.at(-1)).toMatchObject({ entity: "a", role: "quiesced" });
    expect(() => world.request("group_create", { gname: "g", model: "2N", members: ["a", "b"] })).toThrow(/EEXIST.*being deleted/);
    expect(() => world.request("group_switchover", { gname: "g" })).toThrow(/EBUSY/);
    ack(world, "a");
    expect(world.state.groups.has("g")).toBe(false);
    world.request("group_create", { gname: "g", model: "2N", members: ["b", "a"] });
    expect(world.roles.at(-2)).toMatchObject({ entity: "b", role: "active" });
  });

  it("refuses a config apply that would drop a serving member's entity", () => {
    const world = new World();
    const entity = (name: string) => ({ name, fingerprint: `${name}-v1`, create: { op: "attach", args: { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 } }, setup: [] });
    world.send({ kind: "apply", at: world.at, ref: 1, plan: { entities: [entity("a"), entity("b")], global: [], groups: [{ op: "group_create", args: { gname: "g", model: "2N", members: ["a", "b"] } }] }, source: "/etc/ham.json" });
    world.request("role_register", { ename: "a" }, caller(world, "a"));
    ack(world, "a");
    const before = world.state;
    world.send({ kind: "apply", at: world.at, ref: 2, plan: { entities: [entity("b")], global: [] }, source: "/etc/ham.json" });
    expect(world.replies.get(2)?.error).toMatch(/EBUSY: a serves its group/);
    expect(world.state).toBe(before);
  });

  it("applies a config file's group again: members, ack timeout and faults follow the file; its model cannot change", () => {
    const world = new World();
    const entity = (name: string) => ({ name, fingerprint: `${name}-v1`, create: { op: "attach", args: { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 } }, setup: [] });
    const apply = (ref: number, group: Record<string, unknown>) => world.send({
      kind: "apply", at: world.at, ref, source: "/etc/ham.json",
      plan: { entities: [entity("a"), entity("b"), entity("c")], global: [], groups: [{ op: "group_create", args: { gname: "g", model: "2N", ...group } }] },
    });
    apply(1, { members: ["a", "b"] });
    apply(2, { members: ["a", "b", "c"], ackTimeoutMs: 500, faults: { major: "log" } });
    expect(world.replies.get(2)?.error).toBeUndefined();
    const g = world.state.groups.get("g");
    expect(g?.members.map((member) => member.name)).toEqual(["a", "b", "c"]);
    expect([g?.ackTimeoutMs, g?.faults]).toEqual([500, { major: "log" }]);
    const before = world.state;
    apply(3, { model: "N-way-active", members: ["a"] });
    expect(world.replies.get(3)?.error).toMatch(/EBUSY/);
    expect(world.state).toBe(before);
  });

  it("fires CONDGROUPNOACTIVE when the active fails with no ready standby", () => {
    const world = new World();
    for (const name of ["a", "b"]) world.request("attach", { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 });
    world.request("role_register", { ename: "a" }, caller(world, "a"));
    world.request("group_create", { gname: "g", model: "2N", members: ["a", "b"] });
    world.request("condition", { ename: null, cname: "none", type: Q.CONDGROUPNOACTIVE, flags: 0 });
    world.request("action", { ename: null, cname: "none", aname: "page", kind: "log", message: "no active", verbosity: 1, flags: 0 });
    ack(world, "a");
    world.kill("a");
    expect(world.log.filter((line) => line.message === "no active")).toHaveLength(1);
    expect(world.events()).toContain("no-active");
  });

  it("makes every ready member active in an N-way-active group, and one with no-redundancy", () => {
    const nway = group("N-way-active", ["a", "b", "c"]);
    expect(nway.roles.map((role) => role.role)).toEqual(["active", "active", "active"]);
    const single = group("no-redundancy", ["a", "b"]);
    expect(single.roles.map((role) => [role.entity, role.role])).toEqual([["a", "active"]]);
    ack(single, "a");
    single.kill("a");
    expect(single.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
  });

  it("counts the service's availability: down only from the failure to the new active's acknowledgement", () => {
    const world = group();
    settle2N(world);
    world.wall += 10_000;
    world.kill("a");
    world.wall += 40;
    ack(world, "b");
    world.wall += 10_000;
    const counters = world.state.groups.get("g")?.counters;
    expect(counters).toMatchObject({ downMs: 40, upMs: 10_000, repairs: 1 });
  });

  it("rejects bad requests with the right code and changes nothing", () => {
    const world = group();
    const before = world.state;
    expect(() => world.request("group_create", { gname: "g", model: "2N", members: ["a"] })).toThrow(/EEXIST/);
    expect(() => world.request("group_create", { gname: "h", model: "2N", members: ["a"] })).toThrow(/EBUSY/);
    expect(() => world.request("group_create", { gname: "h", model: "3N", members: ["x"] })).toThrow(/EINVAL/);
    expect(() => world.request("group_create", { gname: ".h", model: "2N", members: ["x"] })).toThrow(/EINVAL/);
    expect(() => world.request("role_register", { ename: "a" }, { pid: 4242, token: "x" })).toThrow(/EPERM/);
    expect(() => world.request("detach", { ename: "a" })).toThrow(/EBUSY/);
    expect(world.state).toBe(before);
  });
});

describe("fault severities in the core (opt-in)", () => {
  const raise = (world: World, name: string, severity: number) =>
    world.request("entity_condition_raise", { ename: name, rtype: 1, rclass: 1, rseverity: severity });
  const faults = (world: World) => world.log.filter((line) => line.event === "fault").map((line) => line.message);

  it("an entity in no group, with no fault policy, answers no severity: its raise conditions fire, nothing else", () => {
    const world = new World();
    world.service("s");
    world.request("condition_raise", { ename: "s", cname: "raised", rtype: 0, rclass: 0, rseverity: 0, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: "s", cname: "raised", aname: "note", kind: "log", message: "seen", verbosity: 1, flags: 0 });
    const pid = world.pid("s");
    for (const severity of [0, 1, 2, 3, 4, 5]) raise(world, "s", severity);
    expect(world.pid("s")).toBe(pid);
    expect(world.terminated).toEqual([]);
    expect(world.fenced).toEqual([]);
    expect(faults(world)).toEqual([]);
    expect(world.entity("s").conditions.get("raised")?.fired).toBe(6);
    expect(world.log.filter((line) => line.message === "seen")).toHaveLength(6);
  });

  it.each(["2N", "no-redundancy", "N-way-active"])("a %s member is failed over on a fatal fault, and left alone on minor and major", (model) => {
    const world = group(model);
    ack(world, "a");
    if (model !== "no-redundancy") ack(world, "b");
    const pid = world.pid("a");
    raise(world, "a", Q.HAMFAULTMINOR);
    raise(world, "a", Q.HAMFAULTMAJOR);
    expect([world.pid("a"), world.fenced, world.terminated, faults(world)]).toEqual([pid, [], [], []]);
    raise(world, "a", Q.HAMFAULTFATAL);
    expect(world.fenced).toEqual(["a"]);
    expect(world.state.groups.get("g")?.counters.failures).toBe(1);
    if (model !== "N-way-active") expect(world.roles.at(-1)).toMatchObject({ entity: "b", role: "active" });
  });

  it("a group's faults replace the member default, severity by severity", () => {
    const world = group("2N", ["a", "b"], { faults: { major: "restart", fatal: "log" } });
    settle2N(world);
    const pid = world.pid("a");
    raise(world, "a", Q.HAMFAULTMINOR);
    expect(faults(world)).toEqual([]);
    raise(world, "a", Q.HAMFAULTFATAL);
    expect(world.fenced).toEqual([]);
    expect(faults(world)).toEqual(["a: fatal fault raised (type 1, class 1)"]);
    raise(world, "a", Q.HAMFAULTMAJOR);
    expect(world.terminated).toEqual([pid]);
    expect(world.pid("a")).not.toBe(pid);
  });

  it("an entity's own fault policy comes before its group's and the default", () => {
    const world = group("2N", ["a", "b"], { faults: { minor: "log" } });
    settle2N(world);
    world.request("policy", { ename: "a", policy: { faults: { minor: "none", fatal: "none", major: "log" } } });
    raise(world, "a", Q.HAMFAULTMINOR);
    raise(world, "a", Q.HAMFAULTFATAL);
    expect([world.fenced, faults(world)]).toEqual([[], []]);
    raise(world, "a", Q.HAMFAULTMAJOR);
    expect(faults(world)).toEqual(["a: major fault raised (type 1, class 1)"]);
    // Outside a group, too: a restart asked for is done, and a failover runs the restart's fail-actions.
    world.service("s");
    world.request("action_fail", { ename: "s", cname: "death", aname: "restart", fname: "escalate", kind: "log", message: "escalated", verbosity: 1 });
    world.request("policy", { ename: "s", policy: { faults: { major: "restart", fatal: "failover" } } });
    const pid = world.pid("s");
    raise(world, "s", Q.HAMFAULTMAJOR);
    expect(world.terminated).toEqual([pid]);
    expect(world.pid("s")).not.toBe(pid);
    raise(world, "s", Q.HAMFAULTFATAL);
    expect(world.log.map((line) => line.message)).toContain("escalated");
  });

  it("a restart asked for on an entity with no restart action is logged, and the process left running", () => {
    const world = new World();
    world.request("attach", { ename: "bare", pid: -1, line: "/bin/bare", flags: 0 });
    world.request("policy", { ename: "bare", policy: { faults: { major: "restart" } } });
    const pid = world.pid("bare");
    raise(world, "bare", Q.HAMFAULTMAJOR);
    expect(world.terminated).toEqual([]);
    expect(world.pid("bare")).toBe(pid);
    expect(faults(world)).toEqual(["bare: major fault raised (type 1, class 1); its policy says restart, but no restart action would restart it: it is left running"]);
  });

  it("warns when a fault policy asks for a restart that no restart action would do, at the time it is set", () => {
    const world = new World();
    const warnings = () => world.log.filter((line) => line.event === "fault-policy").map((line) => line.message);
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: 0 });
    // Through the API: judged when set, so a policy set before its restart action warns; the call still returns 0.
    expect(world.request("policy", { ename: "s", policy: { faults: { minor: "restart", major: "restart" } } })).toBe(0);
    expect(warnings()).toEqual(["s: a minor or major fault is to restart it, but it has no restart action (in a death condition): until it has one, such a fault is only logged"]);
    world.request("condition", { ename: "s", cname: "death", type: Q.CONDDEATH, flags: 0 });
    world.request("action", { ename: "s", cname: "death", aname: "restart", kind: "restart", line: "/bin/s", flags: 0 });
    world.request("policy", { ename: "s", policy: { faults: { fatal: "restart" } } });
    expect(warnings()).toHaveLength(1);
    // A group's faults count for its members.
    world.request("attach", { ename: "m", pid: -1, line: "/bin/m", flags: 0 });
    world.request("group_create", { gname: "g", model: "N-way-active", members: ["m"], faults: { fatal: "restart" } });
    expect(warnings().at(-1)).toMatch(/^m: a fatal fault is to restart it, but it has no restart action/);
    // A config file: judged whole, so a restart action after the policy counts; one without any warns, and the reply says so.
    const entity = (name: string, restart: boolean) => ({
      name, fingerprint: `${name}-v1`,
      create: { op: "attach", args: { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 } },
      setup: [
        { op: "policy", args: { ename: name, policy: { faults: { major: "restart" } } } },
        { op: "condition", args: { ename: name, cname: "death", type: Q.CONDDEATH, flags: 0 } },
        ...(restart ? [{ op: "action", args: { ename: name, cname: "death", aname: "restart", kind: "restart", line: `/bin/${name}`, flags: 0 } }] : []),
      ],
    });
    const before = warnings().length;
    world.send({ kind: "apply", at: world.at, ref: 900, plan: { entities: [entity("web", true), entity("bare", false)], global: [] }, source: "/etc/ham.json" });
    const message = "bare: a major fault is to restart it, but it has no restart action (in a death condition): until it has one, such a fault is only logged";
    expect(world.replies.get(900)?.result).toEqual({ added: ["web", "bare"], changed: [], removed: [], unchanged: [], warnings: [message] });
    expect(warnings().slice(before)).toEqual([message]);
  });
});
