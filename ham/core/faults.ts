import { HAMFAULTFATAL, HAMFAULTMAJOR, HAMFAULTMINOR } from "../../lib/constants.js";
import type { FaultPolicy, FaultResponse } from "../../lib/tree/types.js";
import { assertNever, LOG_LEVEL } from "./describe.js";
import { failRestarts } from "./firings.js";
import { hasRestart } from "./items.js";
import { groupOfMember, memberFailed } from "./groups/roles.js";
import type { Trigger } from "./state.js";
import type { Tx } from "./tx.js";

// Fault responses are opt-in. In QNX a raise's severity is only a number that CONDRAISE filters
// match, and so it is here: ham_entity_condition_raise fires the entity's conditions, and the HAM
// answers HAMFAULTMINOR, HAMFAULTMAJOR or HAMFAULTFATAL only when asked to: by the entity's
// fault policy, else its group's, else, for a member of any group, GROUP_FAULTS (joining a group
// is the request to be failed over on a fatal fault). An entity in no group: nothing.
export const GROUP_FAULTS: Readonly<Record<Severity, FaultResponse>> = Object.freeze({ minor: "none", major: "none", fatal: "failover" });

const SEVERITIES = ["minor", "major", "fatal"] as const;
type Severity = (typeof SEVERITIES)[number];

function severityOf(value: number): Severity | null {
  if (value === HAMFAULTMINOR) return "minor";
  if (value === HAMFAULTMAJOR) return "major";
  if (value === HAMFAULTFATAL) return "fatal";
  return null;
}

function responseTo(tx: Tx, name: string, policy: FaultPolicy | null | undefined, severity: Severity): FaultResponse {
  const group = groupOfMember(tx, name);
  return policy?.[severity] ?? group?.faults?.[severity] ?? (group === undefined ? "none" : GROUP_FAULTS[severity]);
}

export function answerFault(tx: Tx, name: string, trigger: Extract<Trigger, { kind: "raise" }>): void {
  const severity = severityOf(trigger.severity);
  const entity = tx.entity(name);
  if (severity === null || entity === undefined) return;
  const response = responseTo(tx, name, entity.spec.policy.faults, severity);
  const fields = { event: "fault", entity: name, severity, type: trigger.type, class: trigger.class, response };
  const what = `${name}: ${severity} fault raised (type ${trigger.type}, class ${trigger.class})`;
  switch (response) {
    case "none":
      return;
    case "log":
      tx.log(LOG_LEVEL.events, "warn", fields, what);
      return;
    case "restart":
      if (!hasRestart(entity)) {
        tx.log(LOG_LEVEL.events, "warn", fields, `${what}; its policy says restart, but no restart action would restart it: it is left running`);
        return;
      }
      if (entity.run.pid <= 0) {
        tx.log(LOG_LEVEL.events, "warn", fields, `${what}; no process to restart`);
        return;
      }
      tx.log(LOG_LEVEL.events, "warn", fields, `${what}: its process is stopped, its death conditions restart it`);
      tx.emit({ kind: "terminate", pid: entity.run.pid, startTime: entity.run.startTime });
      return;
    case "failover": {
      const group = groupOfMember(tx, name);
      if (group !== undefined) {
        tx.log(LOG_LEVEL.events, "error", fields, `${what}: ${group.name} fails over`);
        memberFailed(tx, name, `${severity} fault raised`);
        return;
      }
      if (failRestarts(tx, name, trigger) === 0) tx.log(LOG_LEVEL.events, "error", fields, `${what}: no group, and no restart action whose fail-actions could run`);
      else tx.log(LOG_LEVEL.events, "error", fields, `${what}: no group: its restart action's fail-actions run`);
      return;
    }
    default:
      assertNever(response);
  }
}

// Said when a fault policy is set (ham_entity_policy, a config file once applied whole, a group
// made or joined through the API): the severities its policy (or its group's) answers with a
// restart while no restart action would restart it. Logged as a warning and returned; null when
// all is well. It is judged at that moment: a restart action added later makes it moot, and the
// raise itself says again that nothing restarts the entity.
export function warnRestartless(tx: Tx, name: string): string | null {
  const entity = tx.entity(name);
  if (entity === undefined || entity.spec.kind === "global" || hasRestart(entity)) return null;
  const severities = SEVERITIES.filter((severity) => responseTo(tx, name, entity.spec.policy.faults, severity) === "restart");
  if (severities.length === 0) return null;
  const message = `${name}: a ${severities.join(" or ")} fault is to restart it, but it has no restart action (in a death condition): until it has one, such a fault is only logged`;
  tx.log(LOG_LEVEL.events, "warn", { event: "fault-policy", entity: name, severities }, message);
  return message;
}
