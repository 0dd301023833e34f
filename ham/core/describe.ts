import type { ActionSpec } from "../../lib/tree/types.js";
import type { Trigger } from "./triggers.js";

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

export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case "death":
      return trigger.abnormal ? "abnormal death" : "death";
    case "state":
      return `state ${trigger.from} -> ${trigger.to}`;
    case "raise":
      return `raise type=${trigger.type} class=${trigger.class} severity=${trigger.severity}`;
    default:
      return trigger.kind;
  }
}
