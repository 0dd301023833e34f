import { CONDITION_TYPE_NAMES, HREARMAFTERRESTART } from "../constants.js";
import type { Action, ActionSpec, Condition, Entity, FailAction, HamInfo } from "./types.js";
import { conditionQueueName } from "./conditions.js";

// The bytes of the /ham files (reference §7): "Label<padding>: value\n", QNX labels first,
// in QNX order, then our extra lines. Label widths: 19 top level, 16 entity and condition
// .info, 13 action files.

export interface TreeView {
  readonly info: HamInfo;
  readonly entities: ReadonlyMap<string, Entity>;
  readonly global: Entity;
  readonly counts: { readonly entities: number; readonly conditions: number; readonly actions: number };
  readonly verbosity: number;
}

export const GLOBAL_DIR = ".global";

function lines(width: number, rows: ReadonlyArray<readonly [string, string | number] | string>): string {
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
  return entity.kind === "global" ? GLOBAL_DIR : entity.name;
}

const ENTITY_TYPES: Record<Entity["kind"], string> = {
  attached: "ATTACHED",
  self: "ATTACHEDSELF",
  placeholder: "PLACEHOLDER",
  global: "GLOBAL",
};

export function renderHamInfo(view: TreeView): string {
  return lines(19, [
    ["Ham Pid", view.info.hamPid],
    ["Guardian Pid", view.info.guardianPid],
    ["Ham Failures", view.info.hamFailures],
    ["Guardian Failures", view.info.guardianFailures],
    ["Num Entities", view.counts.entities],
    ["Num Conditions", view.counts.conditions],
    ["Num Actions", view.counts.actions],
    ["Verbosity", view.verbosity],
  ]);
}

export function renderEntityInfo(entity: Entity): string {
  const rows: Array<readonly [string, string | number] | string> = [
    ["Path", entityPath(entity)],
    ["Entity Pid", entity.pid],
    ["Num conditions", entity.conditions.size],
    ["Entity type", ENTITY_TYPES[entity.kind]],
    "Stats:",
  ];
  const beat = entity.heartbeat;
  if (beat !== null) {
    rows.push(["HeartBeat Period", beat.periodNs], ["HB Low Mark", beat.low], ["HB High Mark", beat.high]);
    if (beat.lastBeatMs !== null) rows.push(["Last Heartbeat", formatStamp(beat.lastBeatMs)]);
    rows.push(["HeartBeat State", beat.state]);
  }
  rows.push(["Created", formatStamp(entity.createdMs)]);
  if (entity.lastDeathMs !== null) rows.push(["Last Death", formatStamp(entity.lastDeathMs)]);
  if (entity.restartedMs !== null) rows.push(["Restarted", formatStamp(entity.restartedMs)]);
  rows.push(["Num Restarts", entity.restarts]);
  // Ours, after the QNX lines.
  rows.push(
    ["Num Deaths", entity.deaths],
    ["Abnormal Deaths", entity.abnormalDeaths],
    ["Missed Low", entity.missedLow],
    ["Missed High", entity.missedHigh],
    ["Last State", entity.lastState],
    ["Enabled", yesNo(entity.enabled)],
    ["Flags", hex(entity.flags)],
  );
  if (entity.command !== null) rows.push(["Command", entity.command]);
  if (entity.lastExit !== null) rows.push(["Last Exit", entity.lastExit]);
  if (entity.kind !== "global") {
    const policy = entity.policy;
    const budget = policy.budget === null ? "none" : `${policy.budget.restarts} in ${policy.budget.windowMs} ms`;
    rows.push(
      ["Min Uptime", `${policy.minUptimeMs} ms`],
      ["Restart Budget", budget],
      ["Backoff", `${entity.backoffMs} ms`],
      ["Gave Up", yesNo(entity.gaveUp)],
    );
  }
  return lines(16, rows);
}

export function renderConditionInfo(entity: Entity, condition: Condition): string {
  const rows: Array<readonly [string, string | number]> = [
    ["Path", `${entityPath(entity)}/${condition.name}`],
    ["Entity Pid", entity.pid],
    ["Num Actions", condition.actions.size],
    ["Condition ReArm", onOff((condition.flags & HREARMAFTERRESTART) !== 0)],
    ["Condition type", CONDITION_TYPE_NAMES[condition.type] ?? String(condition.type)],
  ];
  const filter = condition.filter;
  if (filter.kind === "state") rows.push(["From State", filter.from], ["To State", filter.to]);
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

function specRows(spec: ActionSpec): Array<readonly [string, string | number]> {
  switch (spec.kind) {
    case "restart":
      return [["Restart Line", spec.line]];
    case "execute":
      return [["Execute Line", spec.line]];
    case "waitfor":
      return [["Wait Path", spec.path ?? "(none)"], ["Wait Delay", `${spec.delayMs} ms`]];
    case "pulse":
      return [["Pulse Pid", spec.pid], ["Pulse Chid", spec.chid], ["Pulse Code", spec.code], ["Pulse Value", spec.value]];
    case "signal":
      return [["Signal Pid", spec.pid], ["Signal", spec.signal], ["Signal Code", spec.code], ["Signal Value", spec.value]];
    case "healthy":
      return [["Heartbeat", "HEALTHY"]];
    case "log":
      return [["Log Message", spec.message], ["Log Prefix", onOff(spec.prefix)], ["Log Level", spec.verbosity]];
  }
}

export function describeSpec(spec: ActionSpec): string {
  return specRows(spec).map(([label, value]) => `${label}=${value}`).join(" ");
}

export function renderAction(entity: Entity, condition: Condition, action: Action): string {
  const rows: Array<readonly [string, string | number]> = [
    ["Path", `${entityPath(entity)}/${condition.name}/${action.name}`],
    ["Entity Pid", entity.pid],
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
