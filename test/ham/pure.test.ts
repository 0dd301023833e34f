import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { conditionMatches } from "../../dist/ham/core/triggers.js";
import { judgePeriod, healthy, freshBeat } from "../../dist/ham/core/heartbeats.js";
import { decideRestart } from "../../dist/ham/core/restart.js";
import { pruneAfterRestart } from "../../dist/ham/core/episodes.js";
import { initialState, newEntity, indexOf, ordered } from "../../dist/ham/core/state.js";
import { counts } from "../../dist/ham/core/state.js";
import { parseConfig } from "../../dist/ham/server/config-file.js";
import { resolveTreePath } from "../../dist/ham/server/browse.js";
import { describeWaitStatus } from "../../dist/ham/adapters/processes.js";
import type { Action, Condition, HeartbeatRun, HeartbeatSpec } from "../../dist/ham/core/state.js";

const condition = (type: number, flags = 0, filter: Condition["filter"] = { kind: "plain" }, actions: Action[] = []): Condition => ({
  name: "c", type, filter, flags, enabled: true, fired: 0, order: 1, actions: ordered(actions.map((item) => [item.name, item] as const)),
});
const action = (name: string, flags = 0): Action => ({
  name, id: 1, spec: { kind: "log", message: "m", prefix: false, verbosity: 0 }, flags, enabled: true, runs: 0, failures: 0, fails: null,
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

describe("wait statuses read from a zombie's /proc/PID/stat", () => {
  it("reads a core-dump signal as abnormal, another signal or an exit code as normal", () => {
    expect(describeWaitStatus(0x8b)).toMatchObject({ signal: "SIGSEGV", abnormal: true, description: "killed by SIGSEGV" });
    expect(describeWaitStatus(6)).toMatchObject({ signal: "SIGABRT", abnormal: true });
    expect(describeWaitStatus(15)).toMatchObject({ signal: "SIGTERM", abnormal: false });
    expect(describeWaitStatus(3 << 8)).toMatchObject({ code: 3, signal: null, abnormal: false, description: "exited with code 3" });
  });
});

describe("heartbeat periods", () => {
  const spec = (low: number, high: number): HeartbeatSpec => ({ periodNs: 1e8, low, high });
  const tick = (hb: HeartbeatSpec, beat: HeartbeatRun) => judgePeriod(hb, beat);
  it("fires MISSEDLOW at low misses, MISSEDHIGH at high, and stops until healthy", () => {
    const hb = spec(2, 4);
    const first = tick(hb, freshBeat());
    expect(first.fire).toEqual([]);
    const second = tick(hb, first.beat);
    expect(second.fire).toEqual(["missed-low"]);
    const third = tick(hb, second.beat);
    expect(third.fire).toEqual([]);
    const last = tick(hb, third.beat);
    expect(last.fire).toEqual(["missed-high"]);
    expect(last.keepTicking).toBe(false);
    expect(healthy(last.beat).state).toBe("HEALTHY");
  });
  it("counts several beats in one period as one and resets consecutive misses", () => {
    const hb = spec(2, 0);
    const missed = tick(hb, freshBeat()).beat;
    const beaten = tick(hb, { ...missed, beatInPeriod: true }).beat;
    expect(beaten.consecutiveMisses).toBe(0);
    expect(tick(hb, beaten).fire).toEqual([]);
  });
  it("fires both at once when low equals high, and never when both are 0", () => {
    expect(tick(spec(1, 1), freshBeat()).fire).toEqual(["missed-low", "missed-high"]);
    expect(tick(spec(0, 0), freshBeat()).keepTicking).toBe(false);
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
    const death = condition(Q.CONDDEATH, Q.HREARMAFTERRESTART, { kind: "plain" }, [action("keep", Q.HREARMAFTERRESTART), action("once")]);
    const restart = { ...condition(Q.CONDRESTART, Q.HREARMAFTERRESTART, { kind: "plain" }, [action("default-rearm")]), name: "r" };
    const gone = { ...condition(Q.CONDDETACH), name: "gone" };
    const pruned = pruneAfterRestart(new Map([["c", death], ["r", restart], ["gone", gone]]));
    expect([...pruned.conditions.keys()]).toEqual(["c", "r"]);
    expect([...(pruned.conditions.get("c")?.actions.keys() ?? [])]).toEqual(["keep"]);
    expect([...(pruned.conditions.get("r")?.actions.keys() ?? [])]).toEqual(["default-rearm"]);
    expect(pruned.removedConditions).toBe(1);
  });
});

describe("rendering", () => {
  it("renders the QNX labels at their widths, in order, with byte-exact sizes", () => {
    const base = initialState(7, 1, 0);
    const inetd = newEntity("inetd", "attached", 0);
    const state = { ...base, entities: indexOf([["inetd", { ...inetd, run: { ...inetd.run, pid: 42 } }]]) };
    const view = { info: { hamPid: 7, guardianPid: 8, hamFailures: 0, guardianFailures: 0 }, entities: state.entities, global: state.global, groups: state.groups, counts: () => counts(state), verbosity: 1 };
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
  it("reads YAML (.yaml, .yml) with the same schema; an error names the line, and the field", () => {
    const yaml = [
      "# yaml-language-server: $schema=../schema/ham-config.schema.json",
      "entities:",
      "  - name: w",
      "    command: /bin/sleep 9",
      "    conditions:",
      "      - name: d",
      "        type: CONDDEATH",
      "        actions:",
      "          - { name: r, kind: restart }",
      "          - name: later",
      "            kind: waitfor",
      "            delay: 0",
      "",
    ].join("\n");
    expect(() => parseConfig(yaml, "/etc/ham.yaml")).toThrow(expect.objectContaining({
      code: "EINVAL", message: "EINVAL: line 12: entities[0].conditions[0].actions[1].delay: must be > 0",
    }));
    const plan = parseConfig(yaml.replace("delay: 0", "delay: 50"), "ham.yml");
    expect(plan).toEqual(parseConfig(JSON.stringify({ entities: [{ name: "w", command: "/bin/sleep 9", conditions: [{ name: "d", type: "CONDDEATH",
      actions: [{ name: "r", kind: "restart" }, { name: "later", kind: "waitfor", delay: 50 }] }] }] })));
    expect(() => parseConfig("entities:\n  - name: w\n    command: /bin/true\n    comand: x\n", "a.yaml")).toThrow("EINVAL: line 4: entities[0].comand: unknown field");
    expect(() => parseConfig("entities:\n  - name: w\n    placeholder: true\n  - name: w\n    placeholder: true\n", "a.yaml"))
      .toThrow("EINVAL: line 4: entities[1].name: duplicate entity w");
    expect(() => parseConfig("$schema: ../schema/ham-config.schema.json\nentities: []\n", "a.yaml")).not.toThrow();
    expect(() => parseConfig("entities:\n  - name: w\n   command: x\n", "a.yaml")).toThrow(/^EINVAL: invalid YAML: line 3: /);
    expect(() => parseConfig("entities: []\nentities: []\n", "a.yaml")).toThrow(/^EINVAL: invalid YAML: line 2: Map keys must be unique/);
  });

  it("names the line of a JSON error, also where YAML would take the text", () => {
    const lines = (...rows: string[]) => rows.join("\n");
    expect(() => parseConfig(lines("{", '  "entities": [', "    { \"name\": \"w\", \"placeholder\": true },", "  ]", "}")))
      .toThrow("EINVAL: invalid JSON: line 4: Unexpected token ']'");
    expect(() => parseConfig(lines("{", "  # a comment", '  "entities": []', "}"))).toThrow(/^EINVAL: invalid JSON: line 2: /);
    expect(() => parseConfig(lines("{", "  'entities': []", "}"))).toThrow(/^EINVAL: invalid JSON: line 2: /);
    // JSON.parse's rule, as before: a key given twice keeps the last (in YAML it is an error).
    expect(parseConfig(lines("{", '  "entities": [{ "name": "w", "placeholder": true }],', '  "entities": []', "}")).entities).toEqual([]);
    expect(() => parseConfig(lines("{", '  "entities": [', '    { "name": "w", "command": 12 }', "  ]", "}")))
      .toThrow("EINVAL: line 3: entities[0].command: must be a string");
    expect(() => parseConfig("entities: []\n", "ham.json")).toThrow(/^EINVAL: invalid JSON: line 1: /);
  });

  it("lists the command lines an apply would run, with their fields", () => {
    const plan = parseConfig(JSON.stringify({ entities: [{ name: "w", command: "/bin/sleep 9", conditions: [{ name: "d", type: "CONDDEATH", actions: [
      { name: "r", kind: "restart" },
      { name: "x", kind: "execute", line: "/bin/echo x", fail: [{ name: "f", kind: "execute", line: "/bin/echo f" }] },
    ] }] }, { name: "p", pid: 1, conditions: [{ name: "d", type: "CONDDEATH", actions: [{ name: "r", kind: "restart", line: "/bin/true" }] }] }],
    global: { conditions: [{ name: "g", type: "CONDDETACH", actions: [{ name: "x", kind: "execute", line: "/bin/echo g" }] }] } }));
    expect(plan.entities.map((entity) => entity.programs)).toEqual([
      [{ field: "entities[0].command", line: "/bin/sleep 9" }, { field: "entities[0].conditions[0].actions[1].line", line: "/bin/echo x" },
        { field: "entities[0].conditions[0].actions[1].fail[0].line", line: "/bin/echo f" }],
      [{ field: "entities[1].conditions[0].actions[0].line", line: "/bin/true" }],
    ]);
    expect(plan.globalPrograms).toEqual([{ field: "global.conditions[0].actions[0].line", line: "/bin/echo g" }]);
  });

  it("plans requests and fingerprints each entity", () => {
    const text = JSON.stringify({ entities: [{ name: "w", command: "/bin/sleep 9", conditions: [{ name: "d", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "r", kind: "restart" }] }] }] });
    const plan = parseConfig(text);
    expect(plan.entities[0]?.create).toEqual({ op: "attach", args: { ename: "w", pid: -1, line: "/bin/sleep 9", flags: 0 } });
    expect(plan.entities[0]?.setup.map((r) => r.op)).toEqual(["condition", "action"]);
    expect(plan.entities[0]?.setup[1]?.args["line"]).toBe("/bin/sleep 9");
  });
});
