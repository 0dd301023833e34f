import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { initialState } from "../../dist/ham/core/state.js";
import { step } from "../../dist/ham/core/step.js";
import { entityValue, recordOf } from "../../dist/ham/daemon/records.js";
import { entityFromValue } from "../../dist/ham/daemon/restore.js";
import { availabilityOf, DAY_MS } from "../../dist/ham/core/availability.js";
import { isEntityValue } from "../../dist/ham/daemon/state-schema.js";
import { takeOver, World } from "../helpers/core-world.js";


describe("the core: deaths, restarts and their policy", () => {
  it("restarts a dead service at once, counts it, fires CONDRESTART, and the death's firings end", () => {
    const world = new World();
    world.service("web");
    world.request("condition", { ename: "web", cname: "restarted", type: Q.CONDRESTART, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: "web", cname: "restarted", aname: "note", kind: "log", message: "back", verbosity: 1, flags: 0 });
    const first = world.pid("web");
    world.kill("web");
    expect(world.pid("web")).not.toBe(first);
    expect(world.entity("web").counters).toMatchObject({ restarts: 1, deaths: 1, gaveUp: false });
    expect(world.log.map((line) => line.message)).toContain("back");
    expect(world.entity("web").run.episode).toBeNull();
    expect(world.state.firings.size).toBe(0);
    expect(world.state.queues.size).toBe(0);
  });

  const backoff = [
    { deaths: 1, delays: [100] },
    { deaths: 3, delays: [100, 200, 400] },
    { deaths: 6, delays: [100, 200, 400, 800, 800, 800] },
  ];
  it.each(backoff)("backs off a crash loop ($deaths deaths): $delays ms, each a timer", ({ deaths, delays }) => {
    const world = new World();
    world.service("flap", { minUptimeMs: 1_000, backoffInitialMs: 100, backoffMaxMs: 800 });
    const seen: number[] = [];
    for (let i = 0; i < deaths; i += 1) {
      world.kill("flap");
      expect(world.pid("flap")).toBe(0);
      const timer = [...world.timers].find(([id]) => id.startsWith("restart:"));
      expect(timer).toBeDefined();
      seen.push((timer?.[1] ?? 0) - world.mono);
      world.advance((timer?.[1] ?? 0) - world.mono);
      expect(world.pid("flap")).toBeGreaterThan(0);
    }
    expect(seen).toEqual(delays);
  });

  it("gives up when the restart budget is spent, keeps the entity and says so", () => {
    const world = new World();
    world.service("svc", { minUptimeMs: 0, budget: { restarts: 2, windowMs: 60_000 } });
    world.kill("svc");
    world.kill("svc");
    world.kill("svc");
    expect(world.pid("svc")).toBe(0);
    expect(world.entity("svc").counters).toMatchObject({ restarts: 2, gaveUp: true });
    expect(world.events()).toContain("gave-up");
  });

  it("keeps restarting a healthy entity at once while another one crash-loops in backoff", () => {
    const world = new World();
    world.service("flap", { minUptimeMs: 10_000, backoffInitialMs: 5_000, backoffMaxMs: 5_000 });
    world.service("web");
    world.kill("flap");
    expect(world.pid("flap")).toBe(0);
    for (let i = 0; i < 5; i += 1) {
      const before = world.pid("web");
      world.kill("web");
      expect(world.pid("web")).toBeGreaterThan(before);
    }
    expect(world.pid("flap")).toBe(0);
    world.advance(5_000);
    expect(world.pid("flap")).toBeGreaterThan(0);
  });

  it("removes an entity that died without a restart, keeps it with HENTITYKEEPONDEATH", () => {
    const world = new World();
    world.request("attach", { ename: "once", pid: -1, line: "/bin/once", flags: 0 });
    world.request("attach", { ename: "kept", pid: -1, line: "/bin/kept", flags: Q.HENTITYKEEPONDEATH });
    world.kill("once");
    world.kill("kept");
    expect(world.state.entities.has("once")).toBe(false);
    expect(world.state.entities.has("kept")).toBe(true);
    // A kept dead entity is filled by a later attach, which fires CONDATTACH.
    world.request("condition", { ename: "kept", cname: "att", type: Q.CONDATTACH, flags: 0 });
    world.request("action", { ename: "kept", cname: "att", aname: "say", kind: "log", message: "filled", verbosity: 1, flags: 0 });
    world.request("attach", { ename: "kept", pid: -1, line: "/bin/kept", flags: 0 });
    expect(world.log.map((line) => line.message)).toContain("filled");
  });
});

describe("the core: pruning and re-arming after a restart (§5.5)", () => {
  const cases = [
    { name: "a death condition without REARM goes", condFlags: 0, actionFlags: 0, kept: [] as string[] },
    { name: "a re-armed death condition keeps re-armed actions only", condFlags: Q.HREARMAFTERRESTART, actionFlags: Q.HREARMAFTERRESTART, kept: ["death", "page"] },
    { name: "a re-armed death condition emptied by pruning goes", condFlags: Q.HREARMAFTERRESTART, actionFlags: 0, kept: ["death"] },
    { name: "HCONDKEEPONEMPTY keeps an emptied condition", condFlags: Q.HREARMAFTERRESTART | Q.HCONDKEEPONEMPTY, actionFlags: 0, kept: ["death"] },
  ];
  it.each(cases)("$name", ({ condFlags, actionFlags, kept }) => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: 0 });
    world.request("policy", { ename: "s", policy: { minUptimeMs: 0 } });
    world.request("condition", { ename: "s", cname: "death", type: Q.CONDDEATH, flags: condFlags });
    world.request("action", { ename: "s", cname: "death", aname: "restart", kind: "restart", line: "/bin/s", flags: condFlags & Q.HREARMAFTERRESTART });
    world.request("action", { ename: "s", cname: "death", aname: "page", kind: "log", message: "paged", verbosity: 1, flags: actionFlags });
    world.kill("s");
    const death = world.entity("s").conditions.get("death");
    const left = death === undefined ? [] : ["death", ...[...death.actions.keys()].filter((name) => name !== "restart")];
    expect(left).toEqual(kept);
    expect(world.log.map((line) => line.message)).toContain("paged");
  });
});

describe("the core: action failures (fail-actions, BREAK, KEEP)", () => {
  const cases = [
    { flags: 0, ran: ["after"], removed: true },
    { flags: Q.HACTIONBREAKONFAIL, ran: [], removed: true },
    { flags: Q.HACTIONKEEPONFAIL, ran: ["after"], removed: false },
    { flags: Q.HACTIONBREAKONFAIL | Q.HACTIONKEEPONFAIL, ran: [], removed: false },
  ];
  it.each(cases)("flags 0x$flags: fail-actions run, the rest runs: $ran, the action removed: $removed", ({ flags, ran, removed }) => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    world.request("condition_state", { ename: "s", cname: "state", fromstate: 0, tostate: 0, flags: Q.HCONDKEEPONEMPTY });
    world.request("action", { ename: "s", cname: "state", aname: "notify", kind: "signal", pid: 999, signal: 15, flags });
    world.request("action_fail", { ename: "s", cname: "state", aname: "notify", fname: "fallback", kind: "log", message: "fell back", verbosity: 1, flags: 0 });
    world.request("action", { ename: "s", cname: "state", aname: "after", kind: "log", message: "after", verbosity: 1, flags: 0 });
    world.delivers = false;
    world.request("entity_condition_state", { ename: "s", tostate: 1 });
    const messages = world.log.map((line) => line.message);
    expect(messages).toContain("fell back");
    expect(messages.filter((m) => m === "after")).toEqual(ran);
    expect(world.entity("s").conditions.get("state")?.actions.has("notify")).toBe(!removed);
  });

  it("removes a condition emptied by a failed action unless HCONDKEEPONEMPTY", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: 0 });
    world.request("condition_raise", { ename: "s", cname: "raise", rtype: 0, rclass: 0, rseverity: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "raise", aname: "pulse", kind: "pulse", pid: 5, chid: 1, flags: 0 });
    world.delivers = false;
    world.request("entity_condition_raise", { ename: "s", rtype: 1, rclass: 1, rseverity: 1 });
    expect(world.entity("s").conditions.has("raise")).toBe(false);
  });
});

describe("the core: queues (§5.4, per entity)", () => {
  it("runs an entity's OTHER conditions one after the other: a waitfor holds the next firing", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    world.request("condition_state", { ename: "s", cname: "a", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "a", aname: "wait", kind: "waitfor", delay: 500, flags: 0 });
    world.request("action", { ename: "s", cname: "a", aname: "one", kind: "log", message: "a done", verbosity: 1, flags: 0 });
    world.request("condition_state", { ename: "s", cname: "b", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "b", aname: "two", kind: "log", message: "b done", verbosity: 1, flags: 0 });
    world.request("entity_condition_state", { ename: "s", tostate: 1 });
    expect(world.log.map((line) => line.message)).not.toContain("b done");
    world.advance(500);
    const messages = world.log.map((line) => line.message).filter((m) => m.endsWith("done"));
    expect(messages).toEqual(["a done", "b done"]);
  });

  it("runs NOWAIT and INDEPENDENT conditions beside a waiting OTHER one", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    world.request("condition_state", { ename: "s", cname: "slow", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "slow", aname: "wait", kind: "waitfor", delay: 500, flags: 0 });
    world.request("condition_state", { ename: "s", cname: "fast", fromstate: 0, tostate: 0, flags: Q.HCONDNOWAIT });
    world.request("action", { ename: "s", cname: "fast", aname: "say", kind: "log", message: "nowait", verbosity: 1, flags: 0 });
    world.request("condition_state", { ename: "s", cname: "own", fromstate: 0, tostate: 0, flags: Q.HCONDINDEPENDENT });
    world.request("action", { ename: "s", cname: "own", aname: "say", kind: "log", message: "independent", verbosity: 1, flags: 0 });
    world.request("entity_condition_state", { ename: "s", tostate: 1 });
    expect(world.log.map((line) => line.message)).toEqual(expect.arrayContaining(["nowait", "independent"]));
  });

  it("never holds one entity's firing behind another entity's waitfor", () => {
    const world = new World();
    for (const name of ["a", "b"]) {
      world.request("attach", { ename: name, pid: -1, line: `/bin/${name}`, flags: Q.HENTITYKEEPONDEATH });
      world.request("condition_state", { ename: name, cname: "st", fromstate: 0, tostate: 0, flags: 0 });
    }
    world.request("action", { ename: "a", cname: "st", aname: "wait", kind: "waitfor", delay: 10_000, flags: 0 });
    world.request("action", { ename: "b", cname: "st", aname: "say", kind: "log", message: "b ran", verbosity: 1, flags: 0 });
    world.request("entity_condition_state", { ename: "a", tostate: 1 });
    world.request("entity_condition_state", { ename: "b", tostate: 1 });
    expect(world.log.map((line) => line.message)).toContain("b ran");
  });

  it("skips an action removed through the API in a queued firing, but runs one pruned since it fired", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    world.request("condition_state", { ename: "s", cname: "a", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "a", aname: "wait", kind: "waitfor", delay: 100, flags: 0 });
    world.request("action", { ename: "s", cname: "a", aname: "gone", kind: "log", message: "must not run", verbosity: 1, flags: 0 });
    world.request("action", { ename: "s", cname: "a", aname: "stays", kind: "log", message: "ran", verbosity: 1, flags: 0 });
    world.request("entity_condition_state", { ename: "s", tostate: 1 });
    world.request("action_remove", { ename: "s", cname: "a", aname: "gone" });
    world.advance(100);
    const messages = world.log.map((line) => line.message);
    expect(messages).toContain("ran");
    expect(messages).not.toContain("must not run");
  });
});

describe("the core: many conditions on one entity", () => {
  it("fires 40 conditions in the order they were made, through a removal and a change", () => {
    const world = new World();
    world.request("attach", { ename: "big", pid: -1, line: "/bin/big", flags: Q.HENTITYKEEPONDEATH });
    for (let i = 0; i < 40; i += 1) {
      world.request("condition_state", { ename: "big", cname: `c${i}`, fromstate: 0, tostate: 0, flags: Q.HCONDNOWAIT });
      world.request("action", { ename: "big", cname: `c${i}`, aname: "say", kind: "log", message: `c${i}`, verbosity: 1, flags: 0 });
    }
    world.request("condition_remove", { ename: "big", cname: "c7" });
    world.request("control", { ename: "big", cname: "c3", command: Q.HDISABLE, flags: 0 });
    world.request("entity_condition_state", { ename: "big", tostate: 1 });
    const expected = Array.from({ length: 40 }, (_, i) => `c${i}`).filter((name) => name !== "c7" && name !== "c3");
    expect(world.log.map((line) => line.message).filter((m) => /^c\d+$/.test(m))).toEqual(expected);
    expect([...world.entity("big").conditions.keys()]).toHaveLength(39);
  });
});

describe("the core: global entity, placeholders, HACTIONDONOW", () => {
  it("fires the global entity's conditions for every entity, and refuses a restart action there", () => {
    const world = new World();
    world.request("condition", { ename: null, cname: "any-death", type: Q.CONDDEATH, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: null, cname: "any-death", aname: "say", kind: "log", message: "someone died", verbosity: 1, flags: Q.HREARMAFTERRESTART });
    expect(() => world.request("action", { ename: null, cname: "any-death", aname: "r", kind: "restart", line: "/bin/x", flags: 0 })).toThrow(/EINVAL/);
    world.service("a");
    world.service("b");
    world.kill("a");
    world.kill("b");
    expect(world.log.filter((line) => line.message === "someone died")).toHaveLength(2);
    expect(world.state.global.conditions.get("any-death")?.fired).toBe(2);
  });

  it("keeps a placeholder until an attach fills it, then fires CONDATTACH", () => {
    const world = new World();
    world.request("entity", { ename: "later", flags: 0 });
    world.request("condition", { ename: "later", cname: "att", type: Q.CONDATTACH, flags: 0 });
    world.request("action", { ename: "later", cname: "att", aname: "say", kind: "log", message: "attached", verbosity: 1, flags: 0 });
    expect(world.entity("later").spec.kind).toBe("placeholder");
    world.request("attach", { ename: "later", pid: 4242, flags: 0 }, { pid: 1, token: null }, 77);
    expect(world.entity("later").spec.kind).toBe("attached");
    expect(world.effects).toContainEqual({ kind: "watch-pid", entity: "later", pid: 4242, startTime: 77, adopted: false });
    expect(world.log.map((line) => line.message)).toContain("attached");
  });

  it("keeps a placeholder's HENTITYKEEPONDEATH for the attach that fills it: the entity outlives its process", () => {
    const world = new World();
    world.request("entity", { ename: "later", flags: Q.HENTITYKEEPONDEATH });
    world.request("entity", { ename: "self", flags: 0 });
    world.request("entity", { ename: "self", flags: Q.HENTITYKEEPONDEATH });
    world.request("attach", { ename: "later", pid: 4242, flags: 0 }, { pid: 1, token: null }, 77);
    world.request("attach_self", { ename: "self", hp: 0, hpdl: 0, hpdh: 0, flags: 0 }, { pid: 55, token: "t" }, 9);
    world.kill("later");
    world.send({ kind: "connection-lost", at: world.at, entity: "self", pid: 55 });
    expect(world.entity("later").run.pid).toBe(0);
    expect(world.entity("self").run.pid).toBe(0);
    expect(world.entity("later").spec.flags).toBe(Q.HENTITYKEEPONDEATH);
  });

  it("refuses a second ham_attach_self of one name by the same process with EEXIST, and fires no CONDATTACH", () => {
    const world = new World();
    world.request("attach_self", { ename: "me", hp: 0, hpdl: 0, hpdh: 0, flags: 0 }, { pid: 55, token: "t" }, 9);
    expect(() => world.request("attach_self", { ename: "me", hp: 0, hpdl: 0, hpdh: 0, flags: 0 }, { pid: 55, token: "t" }, 9)).toThrow(/EEXIST/);
    expect(world.effects.filter((effect) => effect.kind === "bind-self")).toHaveLength(1);
    expect(world.entity("me").run.pid).toBe(55);
  });

  it("lets a process the HAM started, or restarted for a self-attached entity, declare itself under its entity's name", () => {
    const world = new World();
    world.service("web");
    world.request("attach_self", { ename: "web", hp: 0, hpdl: 0, hpdh: 0, flags: 0 }, { pid: world.pid("web"), token: "first" }, 1);
    expect(world.entity("web").spec.kind).toBe("self");
    world.kill("web");
    const restarted = world.pid("web");
    world.request("attach_self", { ename: "web", hp: 0, hpdl: 0, hpdh: 0, flags: 0 }, { pid: restarted, token: "second" }, 1);
    expect(world.entity("web").run).toMatchObject({ pid: restarted, clientToken: "second" });
  });

  it("runs an HACTIONDONOW action once, at once, outside the queues and the shared state", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: 0 });
    world.request("condition_state", { ename: "s", cname: "c", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "c", aname: "now", kind: "execute", line: "/bin/now", flags: Q.HACTIONDONOW });
    expect(world.executed()).toEqual(["/bin/now"]);
    expect(world.state.firings.size).toBe(0);
  });

  it("drops a failed request whole and answers its error: an attach whose program cannot start", () => {
    const world = new World();
    world.spawnWorks = false;
    expect(() => world.request("attach", { ename: "nope", pid: -1, line: "/bin/nope", flags: 0 })).toThrow(/ENOENT/);
    expect(world.state.entities.has("nope")).toBe(false);
    expect(() => world.request("condition", { ename: "ghost", cname: "c", type: Q.CONDDEATH, flags: 0 })).toThrow(/ENOENT/);
  });
});

describe("the core: heartbeats", () => {
  function beating(low: number, high: number) {
    const world = new World();
    world.request("attach_self", { ename: "hb", hp: 100e6, hpdl: low, hpdh: high, flags: 0 }, { pid: 55, token: "t" }, 9);
    for (const [cname, type] of [["low", Q.CONDHBEATMISSEDLOW], ["high", Q.CONDHBEATMISSEDHIGH]] as const) {
      world.request("condition", { ename: "hb", cname, type, flags: 0 });
      world.request("action", { ename: "hb", cname, aname: "say", kind: "log", message: cname, verbosity: 1, flags: 0 });
    }
    return world;
  }
  const beat = (world: World) => world.send({ kind: "beat", at: world.at, pid: 55, entities: ["hb"] });

  it("counts a period with a beat as healthy, misses after it, and fires low then high once", () => {
    const world = beating(1, 3);
    beat(world);
    world.advance(100);
    expect(world.entity("hb").counters.missedLow).toBe(0);
    world.advance(100);
    expect(world.entity("hb").counters.missedLow).toBe(1);
    world.advance(200);
    expect(world.entity("hb").counters.missedHigh).toBe(1);
    world.advance(1_000);
    expect(world.entity("hb").counters).toMatchObject({ missedLow: 1, missedHigh: 1 });
    expect(world.entity("hb").run.heartbeat?.state).toBe("MISSEDHIGH");
    expect([...world.timers.keys()].filter((id) => id.startsWith("hb:"))).toEqual([]);
  });

  it("does not hold a period that ended more than a period before it was judged against the client", () => {
    const world = beating(1, 0);
    const boundary = world.timers.get("hb:hb") ?? 0;
    world.timers.delete("hb:hb");
    world.mono = boundary + 250; // the HAM was stopped for 2.5 periods
    world.send({ kind: "timer", at: world.at, id: "hb:hb" });
    expect(world.entity("hb").counters.missedLow).toBe(0);
    expect(world.timers.get("hb:hb")).toBeGreaterThan(world.mono);
  });

  it("never judges a period before its end: an early timer is armed again", () => {
    const world = beating(1, 0);
    const boundary = world.timers.get("hb:hb") ?? 0;
    world.mono = boundary - 0.5;
    world.send({ kind: "timer", at: world.at, id: "hb:hb" });
    expect(world.entity("hb").counters.missedLow).toBe(0);
    expect(world.timers.get("hb:hb")).toBe(boundary);
  });
});

describe("the core: takeover", () => {

  it("adopts a live process (polled from now on) and gives its heartbeat one period of grace", () => {
    const world = new World();
    world.request("attach_self", { ename: "hb", hp: 100e6, hpdl: 1, hpdh: 0, flags: 0 }, { pid: 55, token: "t" }, 9);
    const next = takeOver(world, { hb: true });
    expect(next.effects).toContainEqual({ kind: "watch-pid", entity: "hb", pid: 55, startTime: 9, adopted: true });
    expect((next.timers.get("hb:hb") ?? 0) - next.mono).toBe(200);
    expect(next.state.meta.hamFailures).toBe(1);
  });

  it("gives heartbeats their period of grace again once the new HAM serves its socket (clients can beat only from then)", () => {
    const world = new World();
    world.request("attach_self", { ename: "hb", hp: 100e6, hpdl: 1, hpdh: 0, flags: 0 }, { pid: 55, token: "t" }, 9);
    const next = takeOver(world, { hb: true });
    // A slow start: the socket serves 150 ms after the takeover, no beat could arrive meanwhile.
    next.advance(150);
    expect(next.entity("hb").counters.missedLow).toBe(0);
    next.send({ kind: "serving", at: next.at });
    expect((next.timers.get("hb:hb") ?? 0) - next.mono).toBe(200);
    next.advance(199);
    expect(next.entity("hb").counters.missedLow).toBe(0);
    next.advance(1);
    expect(next.entity("hb").counters.missedLow).toBe(1);
  });

  it("runs the death conditions of a process that died while no HAM watched", () => {
    const world = new World();
    world.service("web");
    const next = takeOver(world, { web: false });
    expect(next.entity("web").counters.deaths).toBe(1);
    expect(next.pid("web")).toBeGreaterThan(0);
    expect(next.events()).toContain("restart");
  });

  it("continues an interrupted recovery from the first action not completed, in order", () => {
    const world = new World();
    world.service("db");
    world.request("action", { ename: "db", cname: "death", aname: "wait", kind: "waitfor", delay: 1_000, flags: Q.HREARMAFTERRESTART });
    world.request("action", { ename: "db", cname: "death", aname: "then", kind: "execute", line: "/bin/then", flags: Q.HREARMAFTERRESTART });
    world.kill("db");
    world.advance(400);
    const next = takeOver(world, { db: true });
    expect(next.spawned()).toEqual([]);
    expect(next.executed()).toEqual([]);
    next.advance(599);
    expect(next.executed()).toEqual([]);
    next.advance(1);
    expect(next.executed()).toEqual(["/bin/then"]);
    expect(next.entity("db").run.episode).toBeNull();
  });

  it("counts a launched execute as run (at most once)", () => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    world.request("condition_state", { ename: "s", cname: "st", fromstate: 0, tostate: 0, flags: 0 });
    world.request("action", { ename: "s", cname: "st", aname: "x", kind: "execute", line: "/bin/x", flags: 0 });
    // The HAM dies just after journaling the launch, before the execute's result.
    const state = world.state;
    const result = step(state, { kind: "request", at: world.at, ref: 99, op: "entity_condition_state", args: { ename: "s", tostate: 1 }, caller: { pid: 1, token: null }, pidStart: null });
    world.state = result.state;
    expect(result.effects.map((effect) => effect.kind)).toEqual(expect.arrayContaining(["persist-now", "execute"]));
    const next = takeOver(world, { s: true });
    expect(next.executed()).toEqual([]);
    expect(next.state.firings.size).toBe(0);
  });

  it("adopts a restart's process found by its spawn token instead of starting a duplicate, and counts the restart", () => {
    const world = new World();
    world.service("web");
    // The HAM dies right after spawning the restart, before noting its pid.
    const died = step(world.state, { kind: "died", at: world.at, entity: "web", pid: world.pid("web"), abnormal: false, reason: "killed" });
    world.state = died.state;
    expect(died.effects.map((effect) => effect.kind)).toContain("spawn");
    const next = takeOver(world, { web: true }, { web: 777 });
    expect(next.spawned()).toEqual([]);
    expect(next.pid("web")).toBe(777);
    expect(next.entity("web").counters.restarts).toBe(1);
    expect(next.entity("web").run.episode).toBeNull();
  });

  it("waits out a backoff a dead HAM had started, only what is left of it", () => {
    const world = new World();
    world.service("flap", { minUptimeMs: 10_000, backoffInitialMs: 1_000, backoffMaxMs: 1_000 });
    world.kill("flap");
    world.advance(300);
    const next = takeOver(world, {});
    expect(next.pid("flap")).toBe(0);
    next.advance(699);
    expect(next.pid("flap")).toBe(0);
    next.advance(1);
    expect(next.pid("flap")).toBeGreaterThan(0);
  });
});

describe("the core: availability (AIS: MTTF / (MTTF + MTTR))", () => {
  it("counts up and down time from the first process, MTTR, MTBF and the percentages", () => {
    const world = new World();
    world.service("db", { minUptimeMs: 100_000, backoffInitialMs: 2_000, backoffMaxMs: 2_000, backoffResetMs: 1_000_000 });
    world.advance(5_000);
    world.kill("db");
    expect(world.pid("db")).toBe(0);
    world.advance(2_000); // the backoff: down
    expect(world.pid("db")).toBeGreaterThan(0);
    world.advance(3_000);
    const figures = availabilityOf(world.entity("db").counters, world.entity("db").counters.deaths, true, world.wall);
    expect(figures).toEqual({ upMs: 8_000, downMs: 2_000, mttrMs: 2_000, mtbfMs: 10_000, percent: 80, percent24h: 80 });
  });

  const cases = [
    { name: "never up", steps: [] as Array<"kill" | number>, up: false, percent: null },
    { name: "up, never down", steps: [5_000], up: true, percent: 100 },
    { name: "down now: the open outage counts", steps: [5_000, "kill", 5_000] as Array<"kill" | number>, up: false, percent: 50 },
  ];
  it.each(cases)("$name", ({ steps, up, percent }) => {
    const world = new World();
    world.request("attach", { ename: "s", pid: -1, line: "/bin/s", flags: Q.HENTITYKEEPONDEATH });
    if (steps.length === 0) world.request("detach", { ename: "s" });
    for (const step of steps) {
      if (step === "kill") world.kill("s");
      else world.advance(step);
    }
    const entity = world.state.entities.get("s");
    const figures = entity === undefined ? null : availabilityOf(entity.counters, entity.counters.deaths, up, world.wall);
    expect(figures?.percent ?? null).toBe(percent);
  });

  it("keeps the figures in the shared state's record (a takeover reads them back)", () => {
    const world = new World();
    world.service("db", { minUptimeMs: 100_000, backoffInitialMs: 2_000, backoffMaxMs: 2_000, backoffResetMs: 1_000_000 });
    world.advance(5_000);
    world.kill("db");
    world.advance(3_000);
    const before = world.entity("db");
    const after = entityFromValue(entityValue(before));
    expect(availabilityOf(after.counters, after.counters.deaths, true, world.wall)).toEqual(availabilityOf(before.counters, before.counters.deaths, true, world.wall));
    expect(after.counters.outages).toEqual([[world.wall - 3_000, world.wall - 1_000]]);
  });

  it("forgets outages older than 24 h in the 24 h figure, not in the whole one", () => {
    const world = new World();
    world.service("svc", { minUptimeMs: 100_000, backoffInitialMs: 3_600_000, backoffMaxMs: 3_600_000, backoffResetMs: 1_000_000 });
    world.kill("svc");
    world.advance(3_600_000); // down an hour
    world.advance(2 * DAY_MS); // then up two days
    const figures = availabilityOf(world.entity("svc").counters, world.entity("svc").counters.deaths, true, world.wall);
    expect(figures.percent24h).toBe(100);
    expect(figures.percent).toBeCloseTo((100 * 2 * DAY_MS) / (2 * DAY_MS + 3_600_000), 6);
  });
});

describe("the core: config apply as one transition", () => {
  const plan = (names: string[], broken = false) => ({
    entities: names.map((name, index) => ({
      name, fingerprint: `${name}-v1`,
      create: { op: "attach", args: { ename: name, pid: -1, line: `/bin/${name}`, flags: 0 } },
      setup: [
        { op: "condition", args: { ename: name, cname: "death", type: Q.CONDDEATH, flags: 0 } },
        ...(broken && index === names.length - 1 ? [{ op: "condition", args: { ename: "nobody", cname: "x", type: Q.CONDDEATH, flags: 0 } }] : []),
      ],
    })),
    global: [],
  });

  it("leaves the state exactly as before when a request fails part-way, then applies the corrected file", () => {
    const world = new World();
    const before = world.state;
    world.send({ kind: "apply", at: world.at, ref: 1, plan: plan(["a", "b", "c"], true), source: "/etc/ham.json" });
    expect(world.replies.get(1)?.error).toMatch(/ENOENT/);
    expect(world.state).toBe(before);
    world.send({ kind: "apply", at: world.at, ref: 2, plan: plan(["a", "b", "c"]), source: "/etc/ham.json" });
    expect(world.replies.get(2)?.result).toEqual({ added: ["a", "b", "c"], changed: [], removed: [], unchanged: [] });
    expect([...world.state.entities.keys()]).toEqual(["a", "b", "c"]);
  });

  it("updates a changed entity's command and flags, and detaches a removed one", () => {
    const world = new World();
    world.send({ kind: "apply", at: world.at, ref: 1, plan: plan(["a", "b"]), source: "/etc/ham.json" });
    const changed = plan(["a"]);
    const edited = { ...changed, entities: [{ ...changed.entities[0]!, fingerprint: "a-v2", create: { op: "attach", args: { ename: "a", pid: -1, line: "/bin/a --new", flags: Q.HENTITYKEEPONDEATH } } }] };
    world.send({ kind: "apply", at: world.at, ref: 2, plan: edited, source: "/etc/ham.json" });
    expect(world.replies.get(2)?.result).toEqual({ added: [], changed: ["a"], removed: ["b"], unchanged: [] });
    expect(world.entity("a").spec).toMatchObject({ command: "/bin/a --new", flags: Q.HENTITYKEEPONDEATH });
    expect(world.state.entities.has("b")).toBe(false);
  });
});
