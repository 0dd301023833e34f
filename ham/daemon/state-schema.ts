import type { ConditionValue, EntityValue, FiringValue, GroupValue, MetaValue } from "./records.js";
import type { CheckpointValue, SectionValue } from "./checkpoint-records.js";

// The records of the shared state, checked field by field when a HAM reads them back (they
// arrive as `unknown`): a type predicate per record kind, so the takeover needs no casts. A
// record that fails its check is skipped and logged, never half-read.

type Check = (value: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const number: Check = (value) => typeof value === "number" && Number.isFinite(value);
const string: Check = (value) => typeof value === "string";
const boolean: Check = (value) => typeof value === "boolean";
const nullOr = (check: Check): Check => (value) => value === null || check(value);
const optional = (check: Check): Check => (value) => value === undefined || check(value);
const arrayOf = (check: Check): Check => (value) => Array.isArray(value) && value.every(check);
const oneOf = (...values: readonly unknown[]): Check => (value) => values.includes(value);
const shape = (fields: Readonly<Record<string, Check>>): Check => (value) =>
  isObject(value) && Object.entries(fields).every(([field, check]) => check(value[field]));
// A discriminated union: the `kind` picks the shape.
const union = (shapes: Readonly<Record<string, Readonly<Record<string, Check>>>>): Check => (value) => {
  if (!isObject(value) || typeof value["kind"] !== "string" || !Object.hasOwn(shapes, value["kind"])) return false;
  return shape(shapes[value["kind"]] ?? {})(value);
};

const failSpecs = {
  execute: { line: string },
  waitfor: { path: nullOr(string), delayMs: number },
  pulse: { pid: number, chid: number, code: number, value: number },
  signal: { pid: number, signal: number, code: number, value: number },
  log: { message: string, prefix: boolean, verbosity: number },
};
const actionSpec = union({ ...failSpecs, restart: { line: string }, healthy: {} });
const failAction = shape({ name: string, spec: union(failSpecs), runs: number, failures: number });
const action = shape({
  name: string, spec: actionSpec, flags: number, enabled: boolean, runs: number, failures: number, fails: nullOr(arrayOf(failAction)),
});

const condition = shape({
  name: string, type: number, flags: number, enabled: boolean, fired: number, order: number, actions: arrayOf(action),
  filter: union({ plain: {}, failure: {}, state: { from: number, to: number }, raise: { type: number, class: number, severity: number } }),
});

const timing = {
  name: string, use: oneOf("liveness", "readiness"), intervalMs: number, timeoutMs: number, startGraceMs: number,
  failureThreshold: number, successThreshold: number,
};
const probe = union({
  exec: { ...timing, command: string },
  http: { ...timing, url: string, bodyContains: nullOr(string), bodyMatches: nullOr(string) },
  tcp: { ...timing, host: string, port: number },
});

const entity = shape({
  name: string, kind: oneOf("attached", "self", "placeholder", "global", "node"), pid: number, startTime: nullOr(number),
  ownChild: boolean, command: nullOr(string), flags: number, enabled: boolean, stop: optional(oneOf("stop", "delete")),
  heartbeat: nullOr(shape({
    periodNs: number, low: number, high: number, state: oneOf("HEALTHY", "MISSEDLOW", "MISSEDHIGH"),
    beatInPeriod: boolean, consecutiveMisses: number, lastBeatMs: nullOr(number),
  })),
  policy: shape({
    minUptimeMs: number, backoffInitialMs: number, backoffMaxMs: number, backoffResetMs: number,
    budget: nullOr(shape({ restarts: number, windowMs: number })),
  }),
  probes: optional(arrayOf(probe)), probeFailures: optional(number),
  createdMs: number, startedMs: number, lastDeathMs: nullOr(number), restartedMs: nullOr(number),
  restarts: number, deaths: number, abnormalDeaths: number, missedLow: number, missedHigh: number, lastState: number,
  lastExit: nullOr(string), restartTimes: arrayOf(number), backoffMs: number, gaveUp: boolean,
  spawnToken: nullOr(string), restartAt: nullOr(number), clientToken: nullOr(string),
  episode: nullOr(shape({ restarted: boolean })), roleToken: optional(nullOr(string)),
  readiness: optional(shape({ mode: oneOf("start", "notify"), notifyFd: nullOr(number), requires: arrayOf(string) })),
  ready: optional(boolean), waiting: optional(boolean),
});

const event = union({
  death: { abnormal: boolean }, detach: {}, attach: {}, restart: {}, "missed-low": {}, "missed-high": {},
  state: { from: number, to: number }, raise: { type: number, class: number, severity: number },
  group: { event: oneOf("failover", "switchover", "no-active"), group: string, from: nullOr(string), to: nullOr(string) },
  probe: { probe: string },
});

const firing = shape({
  id: number, entity: string, owner: nullOr(string), condition: string, actions: arrayOf(string), event,
  episode: boolean, next: number, waitUntil: nullOr(number), launched: optional(nullOr(number)),
});

const meta = shape({
  version: optional(number), hamFailures: number, guardianFailures: number, verbosity: number, nextFiringId: number, nextOrder: optional(number),
  nextChid: number, spawnCount: number, channels: arrayOf(arrayOf((value) => number(value) || nullOr(string)(value))),
  config: shape({ applied: arrayOf(Array.isArray), global: arrayOf(Array.isArray) }), leaseId: optional(string),
  cluster: optional(shape({ name: string, node: string })),
  nodes: optional(arrayOf(shape({ name: string, state: oneOf("up", "down"), pid: nullOr(number), sinceMs: number }))),
});

const haState = oneOf("active", "standby", "quiescing", "quiesced");
const group = shape({
  name: string, model: oneOf("2N", "N-way-active", "no-redundancy"), ackTimeoutMs: number,
  faults: nullOr(shape({ minor: optional(string), major: optional(string), fatal: optional(string) })),
  members: arrayOf(shape({
    name: string, role: nullOr(haState), failing: boolean,
    assigning: nullOr(shape({ role: haState, seq: number, until: number })),
  })),
  seq: number,
  switchover: nullOr(shape({ from: string, to: string, startedMono: number, requester: optional(nullOr(shape({ token: string, id: number }))),
    across: optional(nullOr(shape({ until: nullOr(number) }))) })), deleting: optional(boolean),
  failure: nullOr(shape({ member: string, at: number, announced: boolean })),
  cluster: optional(shape({ members: arrayOf(string), token: nullOr(string), holder: nullOr(string), campaigning: boolean })),
  counters: shape({
    createdMs: number, failovers: number, switchovers: number, failures: number, lastFailoverMs: nullOr(number),
    lastSwitchoverMs: nullOr(number), upMs: number, downMs: number, since: nullOr(number), firstUpMs: nullOr(number),
    repairs: number, outages: arrayOf(arrayOf((value) => nullOr(number)(value))),
  }),
});

export const isGroupValue = (value: unknown): value is GroupValue => group(value);
export const isMetaValue = (value: unknown): value is MetaValue => meta(value);
export const isEntityValue = (value: unknown): value is EntityValue => entity(value);
export const isConditionValue = (value: unknown): value is ConditionValue => condition(value);
export const isFiringValue = (value: unknown): value is FiringValue => firing(value);

const checkpoint = shape({ name: string, id: number, createdMs: number, maxSections: number, maxSectionBytes: number, maxBytes: number });
const section = shape({ data: string, writtenMs: number });

export const isCheckpointValue = (value: unknown): value is CheckpointValue => checkpoint(value);
export const isSectionValue = (value: unknown): value is SectionValue => section(value);
