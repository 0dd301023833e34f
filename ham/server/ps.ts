import type { PsRow, PsState } from "../../lib/wire/ps-row.js";
import type { EntityState, HamState } from "../core/state.js";

// The `ps` request: one row per entity, by name, from the core's state alone (no /proc, no
// clock of its own: `wallMs` and `monoMs` are now).
export function psRows(state: HamState, wallMs: number, monoMs: number): PsRow[] {
  const rows: PsRow[] = [];
  for (const entity of state.entities.values()) rows.push(psRow(entity, wallMs, monoMs));
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function psStateOf(entity: EntityState): PsState {
  if (entity.spec.kind === "placeholder") return "placeholder";
  if (entity.run.pid > 0) return entity.spec.kind === "self" ? "self-attached" : "running";
  if (entity.run.restartAt !== null) return "backing off";
  if (entity.counters.gaveUp) return "gave up";
  return "dead";
}

function psRow(entity: EntityState, wallMs: number, monoMs: number): PsRow {
  const live = entity.run.pid > 0;
  const { restartAt } = entity.run;
  return {
    name: entity.name,
    kind: entity.spec.kind,
    state: psStateOf(entity),
    pid: live ? entity.run.pid : 0,
    startTime: live ? entity.run.startTime : null,
    startedMs: live ? entity.counters.startedMs : null,
    uptimeMs: live ? Math.max(0, wallMs - entity.counters.startedMs) : null,
    restarts: entity.counters.restarts,
    deaths: entity.counters.deaths,
    lastExit: entity.counters.lastExit,
    restartInMs: restartAt === null ? null : Math.max(0, Math.round(restartAt - monoMs)),
  };
}
