import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { conditionMatches } from "../../dist/ham/events.js";
import { tickHeartbeat, markHealthy } from "../../dist/ham/heartbeat-clock.js";
import { decideRestart } from "../../dist/ham/restart-policy.js";
import { pruneAfterRestart } from "../../dist/ham/pruning.js";
import { HamTree } from "../../dist/ham/tree.js";
import { parseConfig } from "../../dist/ham/config-file.js";
import { resolveTreePath } from "../../dist/lib/tree/browse.js";
import type { Action, Condition, Heartbeat } from "../../dist/lib/tree/types.js";

const condition = (type: number, flags = 0, filter: Condition["filter"] = { kind: "plain" }): Condition => ({
  name: "c", type, filter, flags, enabled: true, fired: 0, actions: new Map(),
});
const action = (name: string, flags = 0): Action => ({
  name, spec: { kind: "log", message: "m", prefix: false, verbosity: 0 }, flags, enabled: true, removed: false, runs: 0, failures: 0, fails: new Map(),
});

describe("condition matching", () => {
  it("fires death conditions on any death and abnormal-death ones only on core-dump deaths", () => {
    expect(conditionMatches(condition(Q.CONDDEATH), { kind: "death", abnormal: false })).toBe(true);
    expect(conditionMatches(condition(Q.CONDABNORMALDEATH), { kind: "death", abnormal: false })).toBe(false);
    expect(conditionMatches(condition(Q.CONDABNORMALDEATH), { kind: "death", abnormal: true })).toBe(true);
    expect(conditionMatches(condition(Q.CONDDEATH), { kind: "death", abnormal: true })).toBe(true);
    expect(conditionMatches(condition(Q.CONDANY), { kind: "raise", type: 1, class: 2, severity: 3 })).toBe(true);
  });
  it("matches state transitions with wildcards, sets and inversion", () => {
    const plain = condition(Q.CONDSTATE, 0, { kind: "state", from: 1, to: 0 });
    expect(conditionMatches(plain, { kind: "state", from: 1, to: 9 })).toBe(true);
    expect(conditionMatches(plain, { kind: "state", from: 2, to: 9 })).toBe(false);
    const set = condition(Q.CONDSTATE, Q.HCONDSTATETOSET, { kind: "state", from: 0, to: (1 << 3) | (1 << 5) });
    expect(conditionMatches(set, { kind: "state", from: 0, to: 5 })).toBe(true);
    expect(conditionMatches(set, { kind: "state", from: 0, to: 4 })).toBe(false);
    const inverted = condition(Q.CONDSTATE, Q.HCONDSTATETOSET | Q.HCONDSTATETOINV, { kind: "state", from: 0, to: 1 << 3 });
    expect(conditionMatches(inverted, { kind: "state", from: 0, to: 3 })).toBe(false);
    expect(conditionMatches(inverted, { kind: "state", from: 0, to: 4 })).toBe(true);
  });
  it("filters raised conditions field by field, 0 matching anything", () => {
    const raise = condition(Q.CONDRAISE, 0, { kind: "raise", type: 4, class: 0, severity: 2 });
    expect(conditionMatches(raise, { kind: "raise", type: 4, class: 99, severity: 2 })).toBe(true);
    expect(conditionMatches(raise, { kind: "raise", type: 4, class: 99, severity: 3 })).toBe(false);
  });
});

describe("heartbeat periods", () => {
  const beat = (low: number, high: number): Heartbeat => ({
    periodNs: 1e8, low, high, state: "HEALTHY", beatInPeriod: false, consecutiveMisses: 0, lastBeatMs: null,
  });
  it("fires MISSEDLOW at low misses, MISSEDHIGH at high, and stops until healthy", () => {
    const hb = beat(2, 4);
    expect(tickHeartbeat(hb).fire).toEqual([]);
    expect(tickHeartbeat(hb).fire).toEqual(["missed-low"]);
    expect(tickHeartbeat(hb).fire).toEqual([]);
    const last = tickHeartbeat(hb);
    expect(last.fire).toEqual(["missed-high"]);
    expect(last.keepTicking).toBe(false);
    markHealthy(hb);
    expect(hb.state).toBe("HEALTHY");
  });
  it("counts several beats in one period as one and resets consecutive misses", () => {
    const hb = beat(2, 0);
    tickHeartbeat(hb);
    hb.beatInPeriod = true;
    tickHeartbeat(hb);
    expect(hb.consecutiveMisses).toBe(0);
    expect(tickHeartbeat(hb).fire).toEqual([]);
  });
  it("fires both at once when low equals high, and never when both are 0", () => {
    expect(tickHeartbeat(beat(1, 1)).fire).toEqual(["missed-low", "missed-high"]);
    expect(tickHeartbeat(beat(0, 0)).keepTicking).toBe(false);
  });
});

describe("restart policy", () => {
  const policy = { minUptimeMs: 1000, backoffInitialMs: 100, backoffMaxMs: 400, backoffResetMs: 10_000, budget: null };
  it("restarts at once after a long enough run", () => {
    expect(decideRestart(policy, { startedMs: 0, diedMs: 5000, backoffMs: 200, restartTimes: [] }, 5000)).toEqual({ kind: "now", backoffMs: 200 });
    expect(decideRestart(policy, { startedMs: 0, diedMs: 20_000, backoffMs: 400, restartTimes: [] }, 20_000)).toEqual({ kind: "now", backoffMs: 0 });
  });
  it("backs off, doubling up to the maximum, after quick deaths", () => {
    const quick = (backoffMs: number) => decideRestart(policy, { startedMs: 0, diedMs: 10, backoffMs, restartTimes: [] }, 10);
    expect(quick(0)).toEqual({ kind: "after", delayMs: 100, backoffMs: 100 });
    expect(quick(100)).toEqual({ kind: "after", delayMs: 200, backoffMs: 200 });
    expect(quick(400)).toEqual({ kind: "after", delayMs: 400, backoffMs: 400 });
  });
  it("gives up when the budget is spent within its window", () => {
    const budgeted = { ...policy, budget: { restarts: 2, windowMs: 1000 } };
    expect(decideRestart(budgeted, { startedMs: 0, diedMs: 5000, backoffMs: 0, restartTimes: [4200, 4900] }, 5000).kind).toBe("give-up");
    expect(decideRestart(budgeted, { startedMs: 0, diedMs: 5000, backoffMs: 0, restartTimes: [3000, 4900] }, 5000).kind).toBe("now");
  });
});

describe("pruning after a restart (QNX §5.5, 7.1 defaults)", () => {
  it("drops conditions without REARM and non-re-armed actions of death conditions", () => {
    const tree = new HamTree(() => 0);
    const entity = tree.newEntity("e", "attached");
    const death = condition(Q.CONDDEATH, Q.HREARMAFTERRESTART);
    death.actions.set("keep", action("keep", Q.HREARMAFTERRESTART));
    death.actions.set("once", action("once"));
    const restart = { ...condition(Q.CONDRESTART, Q.HREARMAFTERRESTART), name: "r" };
    restart.actions.set("default-rearm", action("default-rearm"));
    const gone = { ...condition(Q.CONDDETACH), name: "gone" };
    entity.conditions.set("c", death).set("r", restart).set("gone", gone);
    pruneAfterRestart(entity);
    expect([...entity.conditions.keys()]).toEqual(["c", "r"]);
    expect([...death.actions.keys()]).toEqual(["keep"]);
    expect([...restart.actions.keys()]).toEqual(["default-rearm"]);
  });
});

describe("rendering", () => {
  it("renders the QNX labels at their widths, in order, with byte-exact sizes", () => {
    const tree = new HamTree(() => 0);
    const entity = tree.newEntity("inetd", "attached");
    entity.pid = 42;
    tree.add(entity);
    const view = tree.view({ hamPid: 7, guardianPid: 8, hamFailures: 0, guardianFailures: 0 }, 1);
    const info = resolveTreePath(view, "/.info");
    expect(info.type === "file" && info.content.startsWith("Ham Pid            : 7\nGuardian Pid       : 8\n")).toBe(true);
    const entityInfo = resolveTreePath(view, "/inetd/.info");
    expect(entityInfo.type === "file" && entityInfo.content.split("\n").slice(0, 5)).toEqual([
      "Path            : inetd", "Entity Pid      : 42", "Num conditions  : 0", "Entity type     : ATTACHED", "Stats:",
    ]);
    const root = resolveTreePath(view, "/");
    expect(root.type === "dir" && root.entries.map((e) => e.name)).toEqual([".info", ".global", "inetd"]);
    const size = root.type === "dir" ? root.entries[0]?.size : -1;
    expect(size).toBe(info.type === "file" ? Buffer.byteLength(info.content) : -2);
    expect(() => resolveTreePath(view, "/nope")).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});

describe("config files", () => {
  it("names the line of a syntax error and the field of a bad value", () => {
    expect(() => parseConfig('{\n "entities": [\n  {,}\n ]\n}')).toThrow(/line 3/);
    expect(() => parseConfig(JSON.stringify({ entities: [{ name: "w", command: "/bin/true", conditions: [{ name: "d", type: "CONDDEATH", actions: [{ name: "w", kind: "waitfor", delay: 0 }] }] }] })))
      .toThrow(/entities\[0\]\.conditions\[0\]\.actions\[0\].*delay/);
    expect(() => parseConfig(JSON.stringify({ entities: [{ name: "a/b", command: "/bin/true" }] }))).toThrow(/entities\[0\]\.name/);
  });
  it("plans requests and fingerprints each entity", () => {
    const text = JSON.stringify({ entities: [{ name: "w", command: "/bin/sleep 9", conditions: [{ name: "d", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "r", kind: "restart" }] }] }] });
    const plan = parseConfig(text);
    expect(plan.entities[0]?.create).toEqual({ op: "attach", args: { ename: "w", pid: -1, line: "/bin/sleep 9", flags: 0 } });
    expect(plan.entities[0]?.setup.map((r) => r.op)).toEqual(["condition", "action"]);
    expect(plan.entities[0]?.setup[1]?.args["line"]).toBe("/bin/sleep 9");
  });
});
