import { describe, expect, it } from "vitest";
import { mayServe } from "../../dist/ham/core/groups/roles.js";
import { World } from "../helpers/core-world.js";

// Cluster groups in the core alone (core/groups/cluster-groups.ts), on the manual clock: node n1's
// HAM, with member db; db@n2 is on another node. Election answers are fed as events.

const caller = (world: World) => ({ pid: world.pid("db"), token: "t-db" });

function node(self = "n1"): World {
  const world = new World();
  world.send({ kind: "node-up", at: world.at, node: self, pid: 1, self: true });
  world.service("db");
  world.request("role_register", { ename: "db" }, caller(world));
  world.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2"] });
  return world;
}

function ack(world: World): void {
  const sent = world.roles.at(-1);
  if (sent === undefined) throw new Error("nothing sent");
  world.request("role_ack", { gname: "g", ename: "db", seq: sent.seq, ok: true }, caller(world));
}

const kinds = (world: World, kind: string) => world.effects.filter((effect) => effect.kind === kind);
const role = (world: World) => world.state.groups.get("g")?.members[0]?.role ?? null;
const serving = (world: World) => (world.state.groups.get("g")?.members ?? []).some(mayServe);

describe("cluster groups in the core", () => {
  it("is EINVAL outside a cluster, and when no member is on this node", () => {
    const world = new World();
    world.service("db");
    expect(() => world.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2"] })).toThrow(/EINVAL: .*not in a cluster/);
    const other = new World();
    other.send({ kind: "node-up", at: other.at, node: "n3", pid: 1, self: true });
    expect(() => other.request("group_create", { gname: "h", model: "2N", members: ["x@n1", "x@n2"] })).toThrow(/EINVAL: no member is on this node/);
    expect(() => other.request("group_create", { gname: "h", model: "2N", members: ["x@n3", "y"] })).toThrow(/EINVAL: .*NAME@NODE/);
    expect(() => other.request("group_create", { gname: "h", model: "N-way-active", members: ["x@n3", "x@n1"] })).toThrow(/EINVAL: a cluster group is 2N or no-redundancy/);
    const made = node();
    expect(() => made.request("group_member_add", { gname: "g", ename: "db" })).toThrow(/EINVAL: g is a cluster group/);
    // Not held by this node, nor by any: nothing to switch over from here.
    expect(() => made.request("group_switchover", { gname: "g" })).toThrow(/EBUSY: g has no active node now/);
  });

  it("makes its member standby, campaigns once it is acknowledged, and makes it active only when elected", () => {
    const world = node();
    expect(world.roles.map((sent) => sent.role)).toEqual(["standby"]);
    expect(kinds(world, "campaign")).toEqual([]);
    ack(world);
    expect(kinds(world, "campaign")).toEqual([{ kind: "campaign", group: "g", member: "db" }]);
    expect(serving(world)).toBe(false);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    expect(world.roles.at(-1)?.role).toBe("active");
    expect(world.effects.filter((effect) => effect.kind === "assign").at(-1)).toMatchObject({ leased: true });
    ack(world);
    expect(role(world)).toBe("active");
  });

  it("does not campaign while another node holds the key, and does once it is free", () => {
    const world = node();
    world.send({ kind: "holder", at: world.at, group: "g", node: "n2" });
    ack(world);
    expect(kinds(world, "campaign")).toEqual([]);
    world.send({ kind: "holder", at: world.at, group: "g", node: null });
    expect(kinds(world, "campaign")).toHaveLength(1);
    world.send({ kind: "elected", at: world.at, group: "g", token: "7" });
    ack(world);
    expect(role(world)).toBe("active");
    // Counted as a failover from the node that held it.
    expect(world.state.groups.get("g")?.counters.failovers).toBe(1);
  });

  it("resigns with its token when its active dies and no member here can serve", () => {
    const world = node();
    ack(world);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    ack(world);
    world.kill("db");
    expect(kinds(world, "resign")).toEqual([{ kind: "resign", group: "g", token: "42" }]);
    expect(serving(world)).toBe(false);
  });

  it("quiesces its active at the lease deadline, kills it if it does not acknowledge, and holds nothing until the lease is back", () => {
    const world = node();
    ack(world);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    ack(world);
    world.send({ kind: "lease", at: world.at, state: "expiring" });
    expect(world.roles.at(-1)?.role).toBe("quiesced");
    expect(world.state.groups.get("g")?.cluster?.token).toBeNull();
    // Not acknowledged within QUIESCE_ACK_MS (200 ms): killed.
    world.advance(250);
    expect(world.fenced).toEqual(["db"]);
    expect(serving(world)).toBe(false);
    // Restarted (its death condition), registered: standby, and no campaign while the lease is expiring.
    world.request("role_register", { ename: "db" }, caller(world));
    ack(world);
    expect(role(world)).toBe("standby");
    expect(kinds(world, "campaign")).toHaveLength(1);
    world.send({ kind: "lease", at: world.at, state: "ok" });
    expect(kinds(world, "campaign")).toHaveLength(2);
  });

  it("a member that acknowledges quiesced in time is not killed", () => {
    const world = node();
    ack(world);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    ack(world);
    world.send({ kind: "lease", at: world.at, state: "expiring" });
    ack(world);
    world.advance(250);
    expect(world.fenced).toEqual([]);
    expect(serving(world)).toBe(false);
  });

  it("a group naming a node that is not in the cluster waits for it and says so", () => {
    const world = new World();
    world.send({ kind: "node-up", at: world.at, node: "n1", pid: 1, self: true });
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 2 });
    world.service("db");
    world.request("group_create", { gname: "g", model: "2N", members: ["db@n1", "db@n2", "db@n3"] });
    expect(world.log.find((line) => line.event === "group-waiting")?.message).toMatch(/group g waits for node n3: not in the cluster/);
    world.send({ kind: "node-up", at: world.at, node: "n3", pid: 3 });
    expect(world.log.find((line) => line.event === "group-node-up")?.message).toBe("g: node n3 is up; every node of the group is");
  });

  it("kills its active at once when the key goes while it held it (its lease expired unseen)", () => {
    const world = node();
    ack(world);
    world.send({ kind: "elected", at: world.at, group: "g", token: "42" });
    ack(world);
    world.send({ kind: "holder", at: world.at, group: "g", node: null });
    expect(world.fenced).toEqual(["db"]);
  });
});
