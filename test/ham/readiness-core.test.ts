import { describe, expect, it } from "vitest";
import { World } from "../helpers/core-world.js";
import { parseConfig } from "../../dist/ham/server/config-file.js";
import { findCycle } from "../../dist/ham/core/start-order.js";

// Readiness and start order in the core alone (core/readiness.ts): events in, effects out.

function apply(world: World, entities: ReadonlyArray<Record<string, unknown>>, source = "/etc/ham.json"): unknown {
  const ref = world.ref++;
  world.send({ kind: "apply", at: world.at, ref, plan: parseConfig(JSON.stringify({ entities })), source });
  const reply = world.replies.get(ref);
  if (reply?.error !== undefined) throw new Error(reply.error);
  return reply?.result;
}

describe("readiness in the core", () => {
  it("holds a dependent until its requirement's entity-ready, from the process that runs now only", () => {
    const world = new World();
    apply(world, [{ name: "web", command: "/bin/web", requires: ["db"] }, { name: "db", command: "/bin/db", notifyFd: 3 }]);
    expect(world.spawned()).toEqual(["db"]);
    expect(world.effects.find((effect) => effect.kind === "spawn")).toMatchObject({ entity: "db", notifyFd: 3 });
    expect(world.entity("web").run.waiting).toBe(true);
    // A newline from a process that is not db's (a former one) changes nothing.
    world.send({ kind: "entity-ready", at: world.at, entity: "db", pid: world.pid("db") + 1 });
    expect(world.spawned()).toEqual(["db"]);
    world.send({ kind: "entity-ready", at: world.at, entity: "db", pid: world.pid("db") });
    expect(world.spawned()).toEqual(["db", "web"]);
    expect(world.entity("web").run.waiting).toBe(false);
    expect(world.entity("db").run.ready).toBe(true);
  });

  it("clears readiness at a death, and ham_ready only from the entity's own process", () => {
    const world = new World();
    apply(world, [{ name: "db", command: "/bin/db", readiness: "notify", flags: ["HENTITYKEEPONDEATH"] }]);
    const pid = world.pid("db");
    expect(() => world.request("ready", { ename: "db" }, { pid: pid + 7, token: null })).toThrow(/^EPERM/);
    expect(world.request("ready", { ename: "db" }, { pid, token: null })).toBe(0);
    expect(world.entity("db").run.ready).toBe(true);
    world.kill("db");
    expect(world.entity("db").run.ready).toBe(false);
    expect(() => world.request("ready", { ename: "db" }, { pid, token: null })).toThrow(/^ESRCH/);
  });

  it("refuses an apply whose requires name an unknown entity or close a cycle through another file", () => {
    const world = new World();
    apply(world, [{ name: "a", command: "/bin/a", requires: ["b"] }, { name: "b", command: "/bin/b" }], "/etc/one.json");
    expect(() => apply(world, [{ name: "web", command: "/bin/web", requires: ["nosuch"] }], "/etc/two.json")).toThrow(/web requires nosuch/);
    expect(() => apply(world, [{ name: "b", command: "/bin/b", requires: ["a"] }, { name: "a", command: "/bin/a", requires: ["b"] }], "/etc/one.json"))
      .toThrow(/a cycle: b → a → b/);
    expect(world.entity("a").spec.readiness.requires).toEqual(["b"]);
    expect(world.state.entities.has("web")).toBe(false);
  });

  it("finds the cycle, named from its first entity back to it", () => {
    expect(findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).toEqual(["a", "b", "c", "a"]);
    expect(findCycle(new Map([["a", ["a"]]]))).toEqual(["a", "a"]);
    expect(findCycle(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]))).toBeNull();
  });
});
