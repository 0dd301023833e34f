import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { World } from "../helpers/core-world.js";

// A switchover of a cluster group to another node, in the core alone (core/groups/cross-switchover.ts),
// on the manual clock: node n1's HAM holds g = [db@n1, db@n2] (token 42), n2 is up. Election answers
// are fed as events, as ham/cluster/election.ts would.

const caller = (world: World) => ({ pid: world.pid("db"), token: "t-db" });
const REQUESTER = { token: "t-ctl", id: 7 };

function ack(world: World): void {
  const sent = world.roles.at(-1);
  if (sent === undefined) throw new Error("nothing sent");
  world.request("role_ack", { gname: "g", ename: "db", seq: sent.seq, ok: true }, caller(world));
}

// n1 holds g, db active.
function holding(): World {
  const world = new World();
  world.send({ kind: "node-up", at: world.at, node: "n1", pid: 1, self: true, ttlMs: 2_000 });
  world.send({ kind: "node-up", at: world.at, node: "n2", pid: 2 });
  world.service("db");
  world.request("role_register", { ename: "db" }, caller(world));
  world.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2"] });
  ack(world);
  world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
  ack(world);
  expect(world.state.groups.get("g")?.members[0]?.role).toBe("active");
  // Each test reads the effects from here on.
  world.effects.splice(0);
  return world;
}

// A switchover waited for (its answer goes to REQUESTER).
function switchover(world: World): void {
  world.send({ kind: "request", at: world.at, ref: 99, op: "group_switchover", args: { gname: "g", wait: true }, caller: { pid: 5, token: REQUESTER.token }, pidStart: null, replyTo: REQUESTER });
}

const answers = (world: World) => world.effects.filter((effect) => (effect.kind === "reply" || effect.kind === "reply-error") && effect.ref === null);
const kinds = (world: World, kind: string) => world.effects.filter((effect) => effect.kind === kind);
const group = (world: World) => world.state.groups.get("g");

describe("a switchover across nodes, in the core", () => {
  it("quiesces, makes its member standby, then gives up its election marked as yielded; done when another node holds it", () => {
    const world = holding();
    world.request("condition", { ename: "db", cname: "so", type: Q.CONDGROUPSWITCHOVER, flags: 0 });
    world.request("action", { ename: "db", cname: "so", aname: "note", kind: "log", message: "switched", verbosity: 1, flags: 0 });
    switchover(world);
    expect(world.replies.get(99)).toBeUndefined();
    expect(world.roles.at(-1)?.role).toBe("quiescing");
    ack(world);
    expect(world.roles.at(-1)?.role).toBe("quiesced");
    expect(kinds(world, "resign")).toEqual([]);
    ack(world);
    expect(world.roles.at(-1)?.role).toBe("standby");
    expect(kinds(world, "resign")).toEqual([]);
    ack(world);
    // Not before its member serves no more.
    expect(kinds(world, "resign")).toEqual([{ kind: "resign", group: "g", token: "42", yielded: true }]);
    expect(group(world)?.switchover?.across?.until).toBe(world.mono + 4_000);
    // Its own delete, seen in its watch: it does not campaign.
    world.send({ kind: "holder", at: world.at, group: "g", node: null });
    expect(kinds(world, "campaign")).toEqual([]);
    world.advance(30);
    world.send({ kind: "holder", at: world.at, group: "g", node: "n2" });
    expect(answers(world)).toEqual([{ kind: "reply", ref: null, to: REQUESTER, result: { from: "db@n1", to: "db@n2", switchover: 1, ms: 30 } }]);
    expect(group(world)?.switchover).toBeNull();
    expect(group(world)?.counters).toMatchObject({ switchovers: 1, failovers: 0, lastSwitchoverMs: 30 });
    expect(group(world)?.members[0]?.role).toBe("standby");
    expect(world.log.find((line) => line.event === "switchover-done")?.message).toMatch(/g switched over from db@n1 to db@n2 in 30 ms/);
    // Its CONDGROUPSWITCHOVER fired on this node's member.
    expect(world.log.map((line) => line.message)).toContain("switched");
    // The window's timer is gone with it.
    world.advance(10_000);
    expect(kinds(world, "campaign")).toEqual([]);
  });

  it("abandons when no other node takes the key within 2 x TTL: campaigns again and its member is active again", () => {
    const world = holding();
    switchover(world);
    ack(world);
    ack(world);
    ack(world);
    world.send({ kind: "holder", at: world.at, group: "g", node: null });
    world.advance(3_999);
    expect(kinds(world, "campaign")).toEqual([]);
    world.advance(1);
    expect(answers(world)).toEqual([{ kind: "reply-error", ref: null, to: REQUESTER, code: "ECANCELED", message: expect.stringMatching(/switchover of g abandoned: no other node took its election within 4000 ms/) }]);
    expect(kinds(world, "campaign")).toEqual([{ kind: "campaign", group: "g", member: "db" }]);
    world.send({ kind: "elected", at: world.at, group: "g", token: "50" });
    expect(world.roles.at(-1)?.role).toBe("active");
    ack(world);
    expect(group(world)?.counters.switchovers).toBe(0);
  });

  it("abandons at once when the other node goes down, even before the key was given up", () => {
    const world = holding();
    switchover(world);
    ack(world);
    world.send({ kind: "node-down", at: world.at, node: "n2" });
    expect(answers(world)[0]).toMatchObject({ code: "ECANCELED", message: expect.stringMatching(/node n2 went down/) });
    // Still holding the key: the member is made active again once it acknowledged quiesced.
    expect(world.roles.at(-1)?.role).toBe("quiesced");
    ack(world);
    expect(world.roles.at(-1)?.role).toBe("active");
    expect(kinds(world, "resign")).toEqual([]);
  });

  it("the request sent again (a HAM that took over) is answered once, by the end of the same switchover", () => {
    const world = holding();
    switchover(world);
    switchover(world);
    expect(world.replies.get(99)).toBeUndefined();
    ack(world);
    ack(world);
    ack(world);
    switchover(world);
    world.send({ kind: "holder", at: world.at, group: "g", node: "n2" });
    expect(answers(world)).toHaveLength(1);
    expect(group(world)?.counters.switchovers).toBe(1);
  });

  it("a key still its own while yielding (its resign lost with a HAM that died) is given up again", () => {
    const world = holding();
    switchover(world);
    ack(world);
    ack(world);
    ack(world);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    expect(kinds(world, "resign")).toHaveLength(2);
    expect(kinds(world, "resign")[1]).toEqual({ kind: "resign", group: "g", token: "42", yielded: true });
    expect(world.roles.at(-1)?.role).toBe("standby");
  });

  it("is refused with no other node up, and EINVAL naming the holder on a node that does not hold it", () => {
    const world = holding();
    world.send({ kind: "node-down", at: world.at, node: "n2" });
    expect(() => world.request("group_switchover", { gname: "g" })).toThrow(/EBUSY: g: no other node of the group is up/);
    const other = new World();
    other.send({ kind: "node-up", at: other.at, node: "n2", pid: 2, self: true });
    other.service("db");
    other.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2"] });
    other.send({ kind: "holder", at: other.at, group: "g", node: "n1" });
    expect(() => other.request("group_switchover", { gname: "g" })).toThrow(/EINVAL: g is active on node n1: ask it \(hamctl --node n1 switchover g\)/);
  });

  it("the other node: a key freed by a switchover is not counted as a failover there", () => {
    const world = new World();
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 2, self: true });
    world.service("db");
    world.request("role_register", { ename: "db" }, caller(world));
    world.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2"] });
    world.send({ kind: "holder", at: world.at, group: "g", node: "n1" });
    ack(world);
    expect(kinds(world, "campaign")).toHaveLength(0);
    world.send({ kind: "holder", at: world.at, group: "g", node: null, yielded: true });
    expect(kinds(world, "campaign")).toHaveLength(1);
    world.send({ kind: "elected", at: world.at, group: "g", token: "43" });
    ack(world);
    expect(group(world)?.members[0]?.role).toBe("active");
    expect(group(world)?.counters.failovers).toBe(0);
  });
});
