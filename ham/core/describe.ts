import type { ActionSpec } from "../../lib/tree/types.js";

// Verbosity of activity-log lines (QNX: ham -v): 1 events, 2 details, 3 every request.
export const LOG_LEVEL = { events: 1, detail: 2, trace: 3 } as const;
export type LogLevelName = "info" | "warn" | "error";

// The global entity's directory in the /ham view.
export const GLOBAL_DIR = ".global";

// How an entity is named in the log and the /ham view ("" is the global entity).
export const pathOf = (name: string): string => (name === "" ? GLOBAL_DIR : name);

// Ends an exhaustive switch: a case left out is a type error, and at run time a loud one.
export function assertNever(value: never): never {
  throw new Error(`unhandled case ${JSON.stringify(value)}`);
}

// Words for actions and triggers, shared by the activity log and the /ham view.

const onOff = (on: boolean) => (on ? "ON" : "OFF");

export function specRows(spec: ActionSpec): Array<readonly [string, string | number]> {
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
