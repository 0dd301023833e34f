import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import type { Effect } from "../../dist/ham/core/effects.js";
import { takeOver, World } from "../helpers/core-world.js";

// Health probes in the core alone (issue 18): results in as events, the prober started and
// stopped by effects, CONDPROBEFAIL once per episode, on a manual clock.

function probed(world: World, name: string, probe: Record<string, unknown>): void {
  world.service(name);
  world.request("probe", { ename: name, probe });
  world.request("condition", { ename: name, cname: "unhealthy", type: Q.CONDPROBEFAIL, flags: Q.HREARMAFTERRESTART });
  world.request("action", { ename: name, cname: "unhealthy", aname: "note", kind: "log", message: "probe failed", verbosity: 1, flags: 0 });
}

function result(world: World, name: string, ok: boolean, probe = "http", pid = world.pid(name)): Effect[] {
  return world.send({ kind: "probe-results", at: world.at, results: [{ entity: name, pid, probe, ok, error: ok ? null : "HTTP 500" }] });
}

const fired = (world: World) => world.log.filter((line) => line.message === "probe failed").length;
const probeEffects = (effects: readonly Effect[]) => effects.filter((effect) => effect.kind === "probe-start" || effect.kind === "probe-stop");

describe("the core: health probes", () => {
  it("starts the prober on a probe, fires CONDPROBEFAIL at the failure threshold once, and ends the episode after successThreshold passes", () => {
    const world = new World();
    world.service("web");
    world.request("probe", { ename: "web", probe: { kind: "http", url: "http://127.0.0.1:1/", failureThreshold: 3, successThreshold: 2 } });
    expect(probeEffects(world.effects)).toMatchObject([{ kind: "probe-start", entity: "web", pid: world.pid("web"), probes: [{ name: "http", intervalMs: 10_000, timeoutMs: 1_000 }] }]);
    world.request("condition", { ename: "web", cname: "unhealthy", type: Q.CONDPROBEFAIL, flags: 0 });
    world.request("action", { ename: "web", cname: "unhealthy", aname: "note", kind: "log", message: "probe failed", verbosity: 1, flags: 0 });
    result(world, "web", false);
    result(world, "web", false);
    expect(fired(world)).toBe(0);
    result(world, "web", false);
    expect(fired(world)).toBe(1);
    result(world, "web", false);
    expect(fired(world)).toBe(1);
    expect(world.entity("web").run.probes?.get("http")).toMatchObject({ consecutiveFailures: 4, totalFailures: 4, failing: true, lastError: "HTTP 500" });
    result(world, "web", true);
    expect(world.entity("web").run.probes?.get("http")).toMatchObject({ failing: true, consecutiveSuccesses: 1 });
    result(world, "web", true);
    expect(world.entity("web").run.probes?.get("http")).toMatchObject({ failing: false, consecutiveFailures: 0, totalFailures: 4 });
    for (let i = 0; i < 3; i += 1) result(world, "web", false);
    expect(fired(world)).toBe(2);
    expect(world.entity("web").counters.probeFailures).toBe(2);
  });

  it("drops a result for an earlier process, stops the probes at a death and starts them again, from zero, for the restarted process", () => {
    const world = new World();
    probed(world, "web", { kind: "http", url: "http://127.0.0.1:1/", failureThreshold: 2 });
    const first = world.pid("web");
    result(world, "web", false);
    world.effects.length = 0;
    world.kill("web");
    const second = world.pid("web");
    expect(second).not.toBe(first);
    expect(probeEffects(world.effects)).toMatchObject([{ kind: "probe-stop", entity: "web" }, { kind: "probe-start", entity: "web", pid: second }]);
    result(world, "web", false, "http", first);
    expect(world.entity("web").run.probes ?? null).toBeNull();
    result(world, "web", false);
    expect(fired(world)).toBe(0);
    result(world, "web", false);
    expect(fired(world)).toBe(1);
    world.effects.length = 0;
    world.request("detach", { ename: "web" });
    expect(probeEffects(world.effects)).toEqual([{ kind: "probe-stop", entity: "web" }]);
  });

  it("restarts through the death condition when CONDPROBEFAIL holds a restart action, and refuses one without it", () => {
    const world = new World();
    world.service("api");
    world.request("probe", { ename: "api", probe: { kind: "tcp", port: 80, failureThreshold: 1 } });
    world.request("condition", { ename: "api", cname: "unhealthy", type: Q.CONDPROBEFAIL, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: "api", cname: "unhealthy", aname: "restart", kind: "restart", line: "/bin/api", flags: 0 });
    const first = world.pid("api");
    result(world, "api", false, "tcp");
    expect(world.terminated).toEqual([first]);
    expect(world.pid("api")).not.toBe(first);
    expect(world.entity("api").counters.restarts).toBe(1);
    // Re-armed: the next process's failures restart it again.
    result(world, "api", false, "tcp");
    expect(world.terminated).toHaveLength(2);

    const lone = new World();
    lone.request("attach", { ename: "lone", pid: -1, line: "/bin/lone", flags: 0 });
    lone.request("probe", { ename: "lone", probe: { kind: "tcp", port: 80, failureThreshold: 1 } });
    lone.request("condition", { ename: "lone", cname: "unhealthy", type: Q.CONDPROBEFAIL, flags: 0 });
    lone.request("action", { ename: "lone", cname: "unhealthy", aname: "restart", kind: "restart", line: "/bin/lone", flags: Q.HACTIONKEEPONFAIL });
    result(lone, "lone", false, "tcp");
    expect(lone.terminated).toEqual([]);
    expect(lone.log.map((line) => line.message).join("\n")).toContain("no restart action in a death condition would start it again");
  });

  it("says a readiness probe passed once (the entity-ready event), and fires no condition when it fails", () => {
    const world = new World();
    probed(world, "db", { kind: "tcp", port: 5432, use: "readiness", failureThreshold: 1, successThreshold: 2 });
    const ready = () => world.effects.filter((effect) => effect.kind === "ready").length;
    result(world, "db", true, "tcp");
    expect(ready()).toBe(0);
    result(world, "db", true, "tcp");
    expect(ready()).toBe(1);
    result(world, "db", false, "tcp");
    result(world, "db", true, "tcp");
    result(world, "db", true, "tcp");
    expect(ready()).toBe(1);
    expect(fired(world)).toBe(0);
    expect(world.events()).toContain("probe-failed");
  });

  it("keeps the probes' specs across a takeover, starts them for the adopted process, and counts from zero", () => {
    const world = new World();
    probed(world, "web", { kind: "exec", name: "check", command: "/usr/bin/true", failureThreshold: 2 });
    result(world, "web", false, "check");
    const next = takeOver(world, { web: true });
    expect(next.entity("web").spec.probes).toMatchObject([{ kind: "exec", name: "check", command: "/usr/bin/true", failureThreshold: 2 }]);
    expect(probeEffects(next.effects)).toMatchObject([{ kind: "probe-start", entity: "web", pid: world.pid("web") }]);
    result(next, "web", false, "check");
    expect(fired(next)).toBe(0);
    result(next, "web", false, "check");
    expect(fired(next)).toBe(1);
  });

  it("refuses bad specs and a probe of the global entity with EINVAL, an unknown one's removal with ENOENT", () => {
    const world = new World();
    world.service("svc");
    for (const probe of [{ kind: "tcp" }, { kind: "http", url: "x" }, { kind: "exec", command: "" }, { kind: "tcp", port: 1, timeoutMs: 0 }]) {
      expect(() => world.request("probe", { ename: "svc", probe }), JSON.stringify(probe)).toThrow(/^EINVAL: probe/);
    }
    expect(() => world.request("probe", { ename: null, probe: { kind: "tcp", port: 1 } })).toThrow(/^EINVAL/);
    expect(() => world.request("probe_remove", { ename: "svc", probe: "tcp" })).toThrow(/^ENOENT/);
    expect(world.entity("svc").spec.probes).toEqual([]);
  });
});
