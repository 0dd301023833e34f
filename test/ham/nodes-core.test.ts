import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { initialState } from "../../dist/ham/core/state.js";
import { nodesUp } from "../../dist/ham/core/nodes/node-facts.js";
import { recordOf, stateKeys } from "../../dist/ham/daemon/records.js";
import { restoreState } from "../../dist/ham/daemon/restore.js";
import { metaValue } from "../../dist/ham/daemon/state-version.js";
import { isMetaValue } from "../../dist/ham/daemon/state-schema.js";
import { World } from "../helpers/core-world.js";

// Node entities (@NAME) in the core alone: node-up / node-down events fire their CONDATTACH and
// CONDDEATH conditions once, across a HAM takeover too (ham/core/nodes/).

function joined(self = "n1"): World {
  const world = new World();
  world.send({ kind: "node-up", at: world.at, node: self, pid: 10, self: true });
  return world;
}

// @n2 with a CONDDEATH and a CONDATTACH condition, each with an execute action.
function tracking(world: World): void {
  world.request("entity", { ename: "@n2", flags: 0 });
  world.request("condition", { ename: "@n2", cname: "gone", type: Q.CONDDEATH, flags: 0 });
  world.request("action", { ename: "@n2", cname: "gone", aname: "run", kind: "execute", line: "/bin/n2-down", flags: 0 });
  world.request("condition", { ename: "@n2", cname: "back", type: Q.CONDATTACH, flags: 0 });
  world.request("action", { ename: "@n2", cname: "back", aname: "run", kind: "execute", line: "/bin/n2-up", flags: 0 });
}

// The state's records as a new HAM reads them back (the HAM-wide record too: it keeps the nodes).
function takeOver(world: World): World {
  const state = world.state;
  const values = new Map(stateKeys(state).filter((key) => key !== "m").map((key) => [key, recordOf(state, key)]));
  const meta = metaValue(state.meta, { nextId: 1, list: () => [] } as never, "lease-1", { name: "c", node: "n1" });
  expect(isMetaValue(JSON.parse(JSON.stringify(meta)))).toBe(true);
  const next = new World(initialState(2, 2, world.wall));
  const pick = (prefix: string) => [...values].filter(([key]) => key.startsWith(prefix));
  const restored = restoreState(next.state, {
    meta: JSON.parse(JSON.stringify(meta)), firings: pick("f/").map(([, value]) => value as never),
    entities: [...pick("e/"), ...pick("g")].map(([, value]) => value as never),
    conditions: pick("c/").map(([key, value]) => [key.slice(2, key.indexOf("/", 2)), value as never] as const),
  });
  next.state = restored.state;
  next.send({ kind: "takeover", at: next.at, firings: restored.firings, facts: { hamPid: 2, takeover: true, torn: null, alive: new Map(), found: new Map() } });
  return next;
}

describe("node entities in the core", () => {
  it("refuses a node entity outside a cluster", () => {
    const world = new World();
    expect(() => world.request("entity", { ename: "@n2", flags: 0 })).toThrow(/EINVAL: @n2 names a node: this HAM is not in a cluster/);
  });

  it("fires CONDATTACH when the node joins and CONDDEATH once when its lease is gone", () => {
    const world = joined();
    tracking(world);
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 20 });
    expect(world.executed()).toEqual(["/bin/n2-up"]);
    // A HAM takeover on n2: its key names another pid, no event for the node.
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 21 });
    expect(world.executed()).toEqual(["/bin/n2-up"]);
    world.send({ kind: "node-down", at: world.at, node: "n2" });
    world.send({ kind: "node-down", at: world.at, node: "n2" });
    expect(world.executed()).toEqual(["/bin/n2-up", "/bin/n2-down"]);
    expect(world.entity("@n2").counters.deaths).toBe(1);
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 30 });
    expect(world.executed()).toEqual(["/bin/n2-up", "/bin/n2-down", "/bin/n2-up"]);
  });

  it("fires no global condition for a node's death", () => {
    const world = joined();
    world.request("condition", { ename: null, cname: "any-death", type: Q.CONDDEATH, flags: 0 });
    world.request("action", { ename: null, cname: "any-death", aname: "run", kind: "execute", line: "/bin/global", flags: 0 });
    tracking(world);
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 20 });
    world.send({ kind: "node-down", at: world.at, node: "n2" });
    expect(world.executed()).toEqual(["/bin/n2-up", "/bin/n2-down"]);
  });

  it("refuses what makes no sense for a node", () => {
    const world = joined();
    world.request("entity", { ename: "@n2", flags: 0 });
    world.request("condition", { ename: "@n2", cname: "gone", type: Q.CONDDEATH, flags: 0 });
    expect(() => world.request("action", { ename: "@n2", cname: "gone", aname: "r", kind: "restart", line: "/bin/x", flags: 0 }))
      .toThrow(/EINVAL: @n2 is a node entity: a restart action makes no sense for a node/);
    expect(() => world.request("condition", { ename: "@n2", cname: "hb", type: Q.CONDHBEATMISSEDHIGH, flags: 0 })).toThrow(/EINVAL: .*CONDDEATH .* and CONDATTACH/);
    expect(() => world.request("condition_state", { ename: "@n2", cname: "s", fromstate: 0, tostate: 1, flags: 0 })).toThrow(/EINVAL/);
    expect(() => world.request("entity_condition_state", { ename: "@n2", tostate: 1, flags: 0 })).toThrow(/EINVAL: @n2 is a node entity/);
    expect(() => world.request("policy", { ename: "@n2", policy: {} })).toThrow(/EINVAL: @n2 is a node entity/);
    expect(() => world.request("attach", { ename: "@n3", pid: -1, line: "/bin/x", flags: 0 })).toThrow(/EINVAL: @n3 names a node/);
    expect(() => world.request("entity", { ename: "@n 3", flags: 0 })).toThrow(/EINVAL: node entity name "@n 3"/);
    // The signal, log and waitfor actions are fine.
    world.request("action", { ename: "@n2", cname: "gone", aname: "say", kind: "log", message: "n2 is gone", flags: 0 });
    world.request("action", { ename: "@n2", cname: "gone", aname: "wait", kind: "waitfor", delay: 10, flags: 0 });
  });

  it("fires a node-down that came while no HAM watched once after a takeover, not again", () => {
    const world = joined();
    tracking(world);
    world.send({ kind: "node-up", at: world.at, node: "n2", pid: 20 });
    // The HAM dies; n2 goes down meanwhile. The new HAM's join lists n1 only: n2, known up, is down.
    const next = takeOver(world);
    expect(nodesUp(next.state.meta).sort()).toEqual(["n1", "n2"]);
    next.send({ kind: "node-up", at: next.at, node: "n1", pid: 11, self: true });
    next.send({ kind: "node-down", at: next.at, node: "n2" });
    expect(next.executed()).toEqual(["/bin/n2-down"]);
    // A second takeover after that: the state knows n2 down, nothing fires again.
    const third = takeOver(next);
    expect(nodesUp(third.state.meta)).toEqual(["n1"]);
    third.send({ kind: "node-up", at: third.at, node: "n1", pid: 12, self: true });
    expect(third.executed()).toEqual([]);
  });
});
