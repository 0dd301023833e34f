import { describe, expect, it } from "vitest";
import { conditionValue, entityValue } from "../../dist/ham/daemon/records.js";
import { newEntity } from "../../dist/ham/core/state.js";
import { isConditionValue, isEntityValue, isFiringValue, isMetaValue } from "../../dist/ham/daemon/state-schema.js";

// The shared state's records as a HAM that takes over reads them back: what the HAM writes
// passes its check, and a record missing a field or carrying an unknown kind does not.
describe("state records", () => {
  const entity = newEntity("web", "attached", 1_000);
  const global = newEntity("", "global", 1_000);

  it("accepts what the HAM writes", () => {
    expect(isEntityValue(entityValue(entity))).toBe(true);
    expect(isEntityValue(entityValue({ ...global, run: { ...global.run, episode: { pending: 1, restarted: true, resumed: false } } }))).toBe(true);
    const condition = {
      name: "death", type: 1, filter: { kind: "plain" as const }, flags: 1, enabled: true, fired: 0, order: 3,
      actions: new Map([["restart", {
        name: "restart", id: 1, spec: { kind: "restart" as const, line: "/bin/true" }, flags: 1, enabled: true, runs: 0, failures: 0,
        fails: new Map([["page", { name: "page", spec: { kind: "execute" as const, line: "/bin/page" }, runs: 0, failures: 0 }]]),
      }]]),
    };
    expect(isConditionValue(conditionValue(condition))).toBe(true);
    expect(isFiringValue({
      id: 7, entity: "web", owner: null, condition: "death", actions: ["restart"], event: { kind: "death", abnormal: false },
      episode: true, next: 0, waitUntil: null,
    })).toBe(true);
    expect(isMetaValue({
      version: 2, hamFailures: 0, guardianFailures: 1, verbosity: 1, nextFiringId: 3, nextChid: 1, spawnCount: 4,
      channels: [[42, 1, "token"]], config: { applied: [], global: [] },
    })).toBe(true);
  });

  it("refuses a record missing a field, with a wrong type, or of an unknown kind", () => {
    const { restarts: _restarts, ...noRestarts } = entityValue(entity);
    expect(isEntityValue(noRestarts)).toBe(false);
    expect(isEntityValue({ ...entityValue(entity), kind: "daemon" })).toBe(false);
    expect(isEntityValue({ ...entityValue(entity), pid: "42" })).toBe(false);
    expect(isFiringValue({
      id: 7, entity: "web", owner: null, condition: "death", actions: ["restart"], event: { kind: "reboot" },
      episode: true, next: 0, waitUntil: null,
    })).toBe(false);
    expect(isMetaValue({ hamFailures: 0 })).toBe(false);
    expect(isConditionValue(null)).toBe(false);
  });
});
