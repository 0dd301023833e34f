import {
  HCONDKEEPONEMPTY, HREARMAFTERRESTART,
} from "../lib/constants.js";
import { isDeathType } from "../lib/tree/conditions.js";
import type { Action, Condition, Entity } from "../lib/tree/types.js";


// QNX 7.1 default: actions re-arm unless they sit in a death condition; the flag forces it.
export function actionRearms(condition: Condition, action: Action): boolean {
  return (action.flags & HREARMAFTERRESTART) !== 0 || !isDeathType(condition.type);
}

// Reference §5.5, after a successful restart: a condition without HREARMAFTERRESTART goes
// with its actions; in a re-armed condition, actions that do not re-arm go. A condition
// emptied by pruning goes too unless HCONDKEEPONEMPTY. Returns what was removed.
export function pruneAfterRestart(entity: Entity): { conditions: number; actions: number } {
  let conditions = 0;
  let actions = 0;
  for (const [name, condition] of entity.conditions) {
    if ((condition.flags & HREARMAFTERRESTART) === 0) {
      entity.conditions.delete(name);
      conditions += 1;
      actions += condition.actions.size;
      continue;
    }
    let removedHere = 0;
    for (const [actionName, action] of condition.actions) {
      if (!actionRearms(condition, action)) {
        condition.actions.delete(actionName);
        removedHere += 1;
      }
    }
    actions += removedHere;
    if (removedHere > 0 && condition.actions.size === 0 && (condition.flags & HCONDKEEPONEMPTY) === 0) {
      entity.conditions.delete(name);
      conditions += 1;
    }
  }
  return { conditions, actions };
}
