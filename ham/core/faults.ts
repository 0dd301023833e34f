import { HAMFAULTFATAL, HAMFAULTMAJOR, HAMFAULTMINOR } from "../../lib/constants.js";
import type { FaultResponse } from "../../lib/tree/types.js";
import { assertNever, LOG_LEVEL } from "./describe.js";
import { failRestarts } from "./firings.js";
import { groupOfMember, memberFailed } from "./roles.js";
import type { Trigger } from "./state.js";
import type { Tx } from "./tx.js";

// Fault severities (seed 000: minor → log, major → restart, fatal → failover). A raise through
// ham_entity_condition_raise fires its conditions as in QNX; a severity of HAMFAULTMINOR,
// HAMFAULTMAJOR or HAMFAULTFATAL is then answered by the entity's fault policy, else its
// group's, else these defaults. Other severities (0, above 3) only fire conditions.
export const DEFAULT_FAULTS: Readonly<Record<Severity, FaultResponse>> = Object.freeze({ minor: "log", major: "restart", fatal: "failover" });

type Severity = "minor" | "major" | "fatal";

function severityOf(value: number): Severity | null {
  if (value === HAMFAULTMINOR) return "minor";
  if (value === HAMFAULTMAJOR) return "major";
  if (value === HAMFAULTFATAL) return "fatal";
  return null;
}

export function answerFault(tx: Tx, name: string, trigger: Extract<Trigger, { kind: "raise" }>): void {
  const severity = severityOf(trigger.severity);
  const entity = tx.entity(name);
  if (severity === null || entity === undefined) return;
  const group = groupOfMember(tx, name);
  const response = entity.spec.policy.faults?.[severity] ?? group?.faults?.[severity] ?? DEFAULT_FAULTS[severity];
  const fields = { event: "fault", entity: name, severity, type: trigger.type, class: trigger.class, response };
  const what = `${name}: ${severity} fault raised (type ${trigger.type}, class ${trigger.class})`;
  switch (response) {
    case "none":
      return;
    case "log":
      tx.log(LOG_LEVEL.events, "warn", fields, what);
      return;
    case "restart":
      if (entity.run.pid <= 0) {
        tx.log(LOG_LEVEL.events, "warn", fields, `${what}; no process to restart`);
        return;
      }
      tx.log(LOG_LEVEL.events, "warn", fields, `${what}: its process is stopped, its death conditions restart it`);
      tx.emit({ kind: "terminate", pid: entity.run.pid, startTime: entity.run.startTime });
      return;
    case "failover":
      if (group !== undefined) {
        tx.log(LOG_LEVEL.events, "error", fields, `${what}: ${group.name} fails over`);
        memberFailed(tx, name, `${severity} fault raised`);
        return;
      }
      if (failRestarts(tx, name, trigger) === 0) tx.log(LOG_LEVEL.events, "error", fields, `${what}: no group, and no restart action whose fail-actions could run`);
      else tx.log(LOG_LEVEL.events, "error", fields, `${what}: no group: its restart action's fail-actions run`);
      return;
    default:
      assertNever(response);
  }
}
