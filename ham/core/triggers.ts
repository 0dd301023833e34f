import {
  CONDABNORMALDEATH, CONDANY, CONDATTACH, CONDDEATH, CONDDETACH, CONDHBEATMISSEDHIGH, CONDHBEATMISSEDLOW,
  CONDRAISE, CONDRESTART, CONDSTATE, HCONDSTATEFROMINV, HCONDSTATEFROMSET, HCONDSTATETOINV, HCONDSTATETOSET,
} from "../../lib/constants.js";
import type { Condition, GroupEvent, Trigger } from "./state.js";
import { CONDGROUPFAILOVER, CONDGROUPNOACTIVE, CONDGROUPSWITCHOVER, CONDPROBEFAIL } from "../../lib/constants.js";

const GROUP_CONDITIONS: Readonly<Record<GroupEvent, number>> = {
  failover: CONDGROUPFAILOVER, switchover: CONDGROUPSWITCHOVER, "no-active": CONDGROUPNOACTIVE,
};
export type { Trigger } from "./state.js";

import { assertNever } from "./describe.js";

// A state value v belongs to a set when bit (1 << v) is set; states outside 0..31 belong to no set.
function stateMatches(filter: number, state: number, isSet: boolean, inverted: boolean): boolean {
  if (filter === 0) return true;
  const member = isSet ? state >= 0 && state < 32 && ((filter >>> state) & 1) === 1 : filter === state;
  return inverted ? !member : member;
}

const anyOrEqual = (filter: number, value: number) => filter === 0 || filter === value;

// Whether `condition` (ignoring its enabled bit) reacts to `event`. CONDANY reacts to every
// event once, including state changes and raised conditions.
export function conditionMatches(condition: Pick<Condition, "type" | "flags" | "filter">, event: Trigger): boolean {
  if (condition.type === CONDANY) return true;
  switch (event.kind) {
    case "death":
      if (condition.type === CONDDEATH) return condition.filter.kind !== "failure" || event.clean !== true;
      return event.abnormal && condition.type === CONDABNORMALDEATH;
    case "detach":
      return condition.type === CONDDETACH;
    case "attach":
      return condition.type === CONDATTACH;
    case "restart":
      return condition.type === CONDRESTART;
    case "missed-low":
      return condition.type === CONDHBEATMISSEDLOW;
    case "missed-high":
      return condition.type === CONDHBEATMISSEDHIGH;
    case "state": {
      const filter = condition.filter;
      if (condition.type !== CONDSTATE || filter.kind !== "state") return false;
      const flags = condition.flags;
      return (
        stateMatches(filter.from, event.from, (flags & HCONDSTATEFROMSET) !== 0, (flags & HCONDSTATEFROMINV) !== 0) &&
        stateMatches(filter.to, event.to, (flags & HCONDSTATETOSET) !== 0, (flags & HCONDSTATETOINV) !== 0)
      );
    }
    case "raise": {
      const filter = condition.filter;
      if (condition.type !== CONDRAISE || filter.kind !== "raise") return false;
      return anyOrEqual(filter.type, event.type) && anyOrEqual(filter.class, event.class) &&
        anyOrEqual(filter.severity, event.severity);
    }
    case "group":
      return condition.type === GROUP_CONDITIONS[event.event];
    case "probe":
      return condition.type === CONDPROBEFAIL;
    default:
      return assertNever(event);
  }
}

export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case "death":
      return trigger.abnormal ? "abnormal death" : "death";
    case "state":
      return `state ${trigger.from} -> ${trigger.to}`;
    case "raise":
      return `raise type=${trigger.type} class=${trigger.class} severity=${trigger.severity}`;
    case "group":
      return `${trigger.group} ${trigger.event}${trigger.from === null ? "" : ` from ${trigger.from}`}${trigger.to === null ? "" : ` to ${trigger.to}`}`;
    case "probe":
      return `probe ${trigger.probe} failed`;
    default:
      return trigger.kind;
  }
}
