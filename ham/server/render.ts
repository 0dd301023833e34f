import { CONDITION_TYPE_NAMES, HREARMAFTERRESTART } from "../../lib/constants.js";
import type { HamInfo } from "../../lib/tree/types.js";
import { conditionQueueName } from "../../lib/tree/conditions.js";
import { availabilityOf } from "../core/availability.js";
import { isReady } from "../core/readiness.js";
import { describeSpec, specRows, GLOBAL_DIR } from "../core/describe.js";
import type { Action, Condition, EntityState as Entity, FailAction, GroupState, Index } from "../core/state.js";
import type { Checkpoint } from "../core/checkpoints/checkpoint-data.js";
import { probeRows } from "./probe-rows.js";

// The bytes of the /ham files (reference §7): "Label<padding>: value\n", QNX labels first,
// in QNX order, then our extra lines. Label widths: 19 top level, 16 entity and condition
// .info, 13 action files.

export interface TreeView {
  readonly info: HamInfo;
  readonly entities: Index<Entity>;
  readonly global: Entity;
  readonly groups: Index<GroupState>;
  // Computed when the top-level .info is rendered (it walks every entity).
  counts(): { readonly entities: number; readonly conditions: number; readonly actions: number };
  readonly verbosity: number;
  // Shown under .checkpoints (checkpoint-view.ts) when there is one.
  readonly checkpoints?: Index<Checkpoint>;
  // In a cluster: its nodes, shown under .nodes (node-view.ts).
  readonly nodes?: readonly NodeRow[];
  // In a cluster: this node and the others up (cluster groups say which node they wait for).
  readonly nodesKnown?: NodesKnown;
}

export { GLOBAL_DIR } from "../core/describe.js";
import type { NodeRow } from "../../lib/wire/node-row.js";
import type { NodesKnown } from "../core/groups/cluster-groups.js";

export function lines(width: number, rows: ReadonlyArray<readonly [string, string | number] | string>): string {
  let out = "";
  for (const row of rows) {
    if (typeof row === "string") out += `${row}\n`;
    else out += `${row[0].padEnd(width)}: ${row[1]}\n`;
  }
  return out;
}

// QNX stamp: YYYY/MM/DD HH:MM:SS:nnnnnnnnn (local time, nanoseconds after the last colon).
export function formatStamp(ms: number): string {
  const date = new Date(Math.floor(ms));
  const two = (n: number) => String(n).padStart(2, "0");
  const nanos = Math.round((ms - Math.floor(ms)) * 1e6) + date.getMilliseconds() * 1e6;
  return (
    `${date.getFullYear()}/${two(date.getMonth() + 1)}/${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}:${String(nanos).padStart(9, "0")}`
  );
}

const onOff = (on: boolean) => (on ? "ON" : "OFF");
const yesNo = (yes: boolean) => (yes ? "YES" : "NO");
const hex = (flags: number) => `0x${flags.toString(16).padStart(8, "0")}`;

export function entityPath(entity: Entity): string {
  return entity.name === "" ? GLOBAL_DIR : entity.name;
}

const ENTITY_TYPES: Record<Entity["spec"]["kind"], string> = {
  attached: "ATTACHED",
  self: "ATTACHEDSELF",
  placeholder: "PLACEHOLDER",
  global: "GLOBAL",
  node: "NODE",
};

export function renderHamInfo(view: TreeView): string {
  const counted = view.counts();
  return lines(19, [
    ["Ham Pid", view.info.hamPid],
    ["Guardian Pid", view.info.guardianPid],
    ["Ham Failures", view.info.hamFailures],
    ["Guardian Failures", view.info.guardianFailures],
    ["Num Entities", counted.entities],
    ["Num Conditions", counted.conditions],
    ["Num Actions", counted.actions],
    ["Verbosity", view.verbosity],
  ]);
}

const seconds = (ms: number | null): string => (ms === null ? "-" : `${(ms / 1000).toFixed(1)} s`);
const percent = (value: number | null): string => (value === null ? "-" : `${value.toFixed(3)} %`);

// `waitingFor`: the requirements its start waits for (readiness.ts), none when it does not wait.
export function renderEntityInfo(entity: Entity, waitingFor: readonly string[] = []): string {
  const rows: Array<readonly [string, string | number] | string> = [
    ["Path", entityPath(entity)],
    ["Entity Pid", entity.run.pid],
    ["Num conditions", entity.conditions.size],
    ["Entity type", ENTITY_TYPES[entity.spec.kind]],
    "Stats:",
  ];
  const { spec, counters } = entity;
  const beat = entity.run.heartbeat;
  if (spec.heartbeat !== null && beat !== null) {
    rows.push(["HeartBeat Period", spec.heartbeat.periodNs], ["HB Low Mark", spec.heartbeat.low], ["HB High Mark", spec.heartbeat.high]);
    if (beat.lastBeatMs !== null) rows.push(["Last Heartbeat", formatStamp(beat.lastBeatMs)]);
    rows.push(["HeartBeat State", beat.state]);
  }
  rows.push(["Created", formatStamp(counters.createdMs)]);
  if (counters.lastDeathMs !== null) rows.push(["Last Death", formatStamp(counters.lastDeathMs)]);
  if (counters.restartedMs !== null) rows.push(["Restarted", formatStamp(counters.restartedMs)]);
  rows.push(["Num Restarts", counters.restarts]);
  // Ours, after the QNX lines.
  rows.push(
    ["Num Deaths", counters.deaths],
    ["Abnormal Deaths", counters.abnormalDeaths],
    ["Missed Low", counters.missedLow],
    ["Missed High", counters.missedHigh],
    ["Last State", counters.lastState],
    ["Enabled", yesNo(spec.enabled)],
    ["Flags", hex(spec.flags)],
  );
  if (spec.command !== null) rows.push(["Command", spec.command]);
  // Probes (beyond QNX): their counts since the process started (not kept across a takeover).
  if (spec.probes.length > 0) rows.push(["Probe Episodes", counters.probeFailures ?? 0]);
  for (const probe of probeRows(entity)) {
    rows.push(
      ["Probe", `${probe.name} (${probe.use})`], ["Probe Kind", probe.target], ["Probe Result", probe.result ?? "-"],
      ["Probe Fails Row", probe.consecutiveFailures], ["Probe Fails", probe.totalFailures], ["Probe Last Error", probe.lastError ?? "-"],
    );
  }
  if (counters.lastExit !== null) rows.push(["Last Exit", counters.lastExit]);
  if (spec.kind !== "global") {
    const policy = spec.policy;
    const budget = policy.budget === null ? "none" : `${policy.budget.restarts} in ${policy.budget.windowMs} ms`;
    rows.push(
      ["Min Uptime", `${policy.minUptimeMs} ms`],
      ["Restart Budget", budget],
      ["Backoff", `${counters.backoffMs} ms`],
      ["Gave Up", yesNo(counters.gaveUp)],
    );
    // As of the entity's last change between up and down (`Since`), so that the file's bytes
    // change only with events; `hamctl ps` and `status` count the interval still open.
    const availability = availabilityOf(counters, counters.deaths, entity.run.pid > 0, counters.since ?? counters.createdMs);
    if (counters.since !== null) rows.push([entity.run.pid > 0 ? "Up Since" : "Down Since", formatStamp(counters.since)]);
    rows.push(
      ["Up Time", seconds(availability.upMs)],
      ["Down Time", seconds(availability.downMs)],
      ["MTTR", seconds(availability.mttrMs)],
      ["MTBF", seconds(availability.mtbfMs)],
      ["Availability", percent(availability.percent)],
      ["Avail 24h", percent(availability.percent24h)],
    );
  }
  if (spec.kind === "attached" || spec.kind === "self") {
    const { readiness } = spec;
    rows.push(["Ready", yesNo(isReady(entity))]);
    if (readiness.mode === "notify") rows.push(["Readiness", readiness.notifyFd === null ? "notify" : `notify (fd ${readiness.notifyFd})`]);
    if (readiness.requires.length > 0) rows.push(["Requires", readiness.requires.join(", ")]);
    if (entity.run.waiting) rows.push(["Waiting For", waitingFor.length === 0 ? "-" : waitingFor.join(", ")]);
  }
  return lines(16, rows);
}

export function renderConditionInfo(entity: Entity, condition: Condition): string {
  const rows: Array<readonly [string, string | number]> = [
    ["Path", `${entityPath(entity)}/${condition.name}`],
    ["Entity Pid", entity.run.pid],
    ["Num Actions", condition.actions.size],
    ["Condition ReArm", onOff((condition.flags & HREARMAFTERRESTART) !== 0)],
    ["Condition type", CONDITION_TYPE_NAMES[condition.type] ?? String(condition.type)],
  ];
  const filter = condition.filter;
  if (filter.kind === "state") rows.push(["From State", filter.from], ["To State", filter.to]);
  if (filter.kind === "failure") rows.push(["Fires On", "failure (not exit 0)"]);
  if (filter.kind === "raise") {
    rows.push(["Raise Type", filter.type], ["Raise Class", filter.class], ["Raise Severity", filter.severity]);
  }
  rows.push(
    ["Queue", conditionQueueName(condition.flags)],
    ["Enabled", yesNo(condition.enabled)],
    ["Flags", hex(condition.flags)],
    ["Times Fired", condition.fired],
  );
  return lines(16, rows);
}

export function renderAction(entity: Entity, condition: Condition, action: Action): string {
  const rows: Array<readonly [string, string | number]> = [
    ["Path", `${entityPath(entity)}/${condition.name}/${action.name}`],
    ["Entity Pid", entity.run.pid],
    ["Action ReArm", onOff((action.flags & HREARMAFTERRESTART) !== 0)],
    ...specRows(action.spec),
    ["Action Type", action.spec.kind.toUpperCase()],
    ["Enabled", yesNo(action.enabled)],
    ["Flags", hex(action.flags)],
    ["Runs", action.runs],
    ["Failures", action.failures],
    ["Fail Actions", action.fails?.size ?? 0],
  ];
  for (const fail of action.fails?.values() ?? []) rows.push(["Fail Action", renderFail(fail)]);
  return lines(13, rows);
}

function renderFail(fail: FailAction): string {
  return `${fail.name} ${fail.spec.kind.toUpperCase()} ${describeSpec(fail.spec)} runs=${fail.runs} failures=${fail.failures}`;
}
