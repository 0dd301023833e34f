import type { Effect } from "./effects.js";
import type { EntityState } from "./state.js";

// Whether the prober checks this entity now: a process runs and it has probes.
export const probing = (entity: EntityState | undefined): boolean => entity !== undefined && entity.run.pid > 0 && entity.spec.probes.length > 0;

// What an entity's change asks of the prober (Tx calls it for every change of an entity): its
// probes start (again, with their start grace) when a process starts or its probes change, and
// stop when its process is gone or it has no probes any more. null: nothing to ask.
export function probeChange(before: EntityState | undefined, next: EntityState | undefined): Effect | null {
  const name = next?.name ?? before?.name ?? "";
  if (next !== undefined && probing(next) && (before?.run.pid !== next.run.pid || before.spec.probes !== next.spec.probes)) {
    return { kind: "probe-start", entity: name, pid: next.run.pid, probes: next.spec.probes };
  }
  if (probing(before) && !probing(next)) return { kind: "probe-stop", entity: name };
  return null;
}
