import { HCONDKEEPONEMPTY, HREARMAFTERRESTART } from "../../lib/constants.js";
import { isDeathType } from "../../lib/tree/conditions.js";
import type { Action, Condition } from "./state.js";

// QNX 7.1 default: actions re-arm unless they sit in a death condition; the flag forces it.
export function actionRearms(condition: Pick<Condition, "type">, action: Pick<Action, "flags">): boolean {
  return (action.flags & HREARMAFTERRESTART) !== 0 || !isDeathType(condition.type);
}

export interface Pruned {
  readonly conditions: ReadonlyMap<string, Condition>;
  readonly removedConditions: number;
  readonly removedActions: number;
}

// Reference §5.5, after a successful restart: a condition without HREARMAFTERRESTART goes
// with its actions; in a re-armed condition, actions that do not re-arm go. A condition
// emptied by pruning goes too unless HCONDKEEPONEMPTY.
export function pruneAfterRestart(conditions: ReadonlyMap<string, Condition>): Pruned {
  const kept = new Map<string, Condition>();
  let removedConditions = 0;
  let removedActions = 0;
  for (const [name, condition] of conditions) {
    if ((condition.flags & HREARMAFTERRESTART) === 0) {
      removedConditions += 1;
      removedActions += condition.actions.size;
      continue;
    }
    const actions = new Map([...condition.actions].filter(([, action]) => actionRearms(condition, action)));
    const removedHere = condition.actions.size - actions.size;
    removedActions += removedHere;
    if (removedHere > 0 && actions.size === 0 && (condition.flags & HCONDKEEPONEMPTY) === 0) {
      removedConditions += 1;
      continue;
    }
    kept.set(name, removedHere === 0 ? condition : { ...condition, actions });
  }
  return { conditions: kept, removedConditions, removedActions };
}
