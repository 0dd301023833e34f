import { describe, expect, it } from "vitest";
import { takeOver, World } from "../helpers/core-world.js";

// The core of hamctl start / stop / delete and of failure-only death conditions (core/services.ts),
// on a manual clock: events in, effects out.

const started = (world: World, name: string, restart = "always") =>
  world.request("service_start", { ename: name, line: `/bin/${name}`, restart });

describe("services in the core", () => {
  it("start makes the entity, its process and its restart tree in one request", () => {
    const world = new World();
    expect(started(world, "web")).toEqual({ ename: "web" });
    const entity = world.entity("web");
    expect(entity.run.pid).toBeGreaterThan(0);
    expect([...entity.conditions.keys()]).toEqual(["death"]);
    expect([...(entity.conditions.get("death")?.actions.keys() ?? [])]).toEqual(["restart"]);
  });

  it("a failure-only condition fires on a non-zero exit or a signal, not on exit 0", () => {
    const world = new World();
    started(world, "job", "on-failure");
    world.request("policy", { ename: "job", policy: { minUptimeMs: 0 } });
    const clean = (pid: number) => world.send({ kind: "died", at: world.at, entity: "job", pid, abnormal: false, reason: "exited with code 0", clean: true });
    const failed = (pid: number) => world.send({ kind: "died", at: world.at, entity: "job", pid, abnormal: false, reason: "exited with code 1", clean: false });
    failed(world.pid("job"));
    expect(world.entity("job").counters.restarts).toBe(1);
    world.kill("job");
    expect(world.entity("job").counters.restarts).toBe(2);
    clean(world.pid("job"));
    expect(world.entity("job").counters.restarts).toBe(2);
    // Kept (HENTITYKEEPONDEATH), dead; started again with its own command.
    expect(world.entity("job").run.pid).toBe(0);
    world.request("service_start", { ename: "job" });
    expect(world.entity("job").run.pid).toBeGreaterThan(0);
  });

  it("stop ends the process, restarts nothing, and also cancels a restart waiting out its backoff", () => {
    const world = new World();
    started(world, "web");
    const pid = world.pid("web");
    world.request("service_stop", { ename: "web" });
    expect(world.terminated).toEqual([pid]);
    expect(world.entity("web")).toMatchObject({ spec: { enabled: false, stop: "stop" }, run: { pid: 0 } });
    expect(world.entity("web").counters.restarts).toBe(0);

    world.request("service_start", { ename: "web" });
    // Dies at once: a backoff (100 ms) before its restart; stopped meanwhile, it is not restarted.
    world.kill("web");
    expect(world.entity("web").run.restartAt).not.toBeNull();
    world.request("service_stop", { ename: "web" });
    world.advance(1_000);
    expect(world.entity("web").run.pid).toBe(0);
    expect(world.entity("web").counters.restarts).toBe(0);
    expect(world.events()).toContain("restart-skipped");
  });

  it("delete removes the entity once its process has ended", () => {
    const world = new World();
    started(world, "web");
    world.request("service_delete", { ename: "web" });
    expect(world.state.entities.has("web")).toBe(false);
    expect(() => world.request("service_stop", { ename: "web" })).toThrow("ENOENT: no entity web");
  });

  it("a stop answered by a HAM that died before its signal: the HAM that takes over ends the process", () => {
    const world = new World();
    started(world, "web");
    const pid = world.pid("web");
    // The stop's changes as written, its terminate never carried out.
    const stopped = world.entity("web");
    world.state = { ...world.state, entities: world.state.entities.set("web", { ...stopped, spec: { ...stopped.spec, enabled: false, stop: "stop" } }) };
    const next = takeOver(world, { web: true });
    expect(next.terminated).toEqual([pid]);
    expect(next.entity("web")).toMatchObject({ spec: { stop: "stop" }, run: { pid: 0 } });
    expect(next.entity("web").counters.restarts).toBe(0);
  });
});
