import type { ProbeRow } from "../../lib/wire/ps-row.js";
import { describeProbe } from "../core/probe-spec.js";
import { probeRunOf } from "../core/probes.js";
import type { EntityState } from "../core/state.js";

// An entity's probes as `hamctl ps`, `status --json` and the /ham view show them.

export function probeRows(entity: EntityState): ProbeRow[] {
  const running = entity.run.pid > 0;
  return entity.spec.probes.map((spec) => {
    const run = probeRunOf(entity, spec.name);
    return {
      entity: entity.name, name: spec.name, kind: spec.kind, use: spec.use, target: describeProbe(spec),
      result: running ? run.lastResult : null, failing: running && run.failing, ready: running && run.ready,
      consecutiveFailures: run.consecutiveFailures, totalFailures: run.totalFailures, lastError: run.lastError,
    };
  });
}

// One word for `hamctl ps`: "-" (no probes), "idle" (no process), "failing" (a probe in a failed
// episode), "starting" (a probe with no result yet, or a readiness probe not passed), else "ok".
export function probeSummary(entity: EntityState): string {
  if (entity.spec.probes.length === 0) return "-";
  if (entity.run.pid <= 0) return "idle";
  const rows = probeRows(entity);
  if (rows.some((row) => row.failing)) return "failing";
  if (rows.some((row) => row.result === null || (row.use === "readiness" && !row.ready))) return "starting";
  return "ok";
}
