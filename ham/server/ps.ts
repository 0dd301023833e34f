import type { AvailabilityFigures, PsRow, PsState } from "../../lib/wire/ps-row.js";
import { availabilityOf, type Availability } from "../core/availability.js";
import type { EntityState, HamState } from "../core/state.js";
import { isReady, unmetRequirements } from "../core/readiness.js";
import { probeRows, probeSummary } from "./probe-rows.js";

const round = (value: number | null, digits: number): number | null => (value === null ? null : Number(value.toFixed(digits)));

// The figures as rows show them: whole ms, percentages to 3 decimals.
export function figures(a: Availability): AvailabilityFigures {
  return {
    upMs: Math.round(a.upMs), downMs: Math.round(a.downMs), mttrMs: round(a.mttrMs, 0), mtbfMs: round(a.mtbfMs, 0),
    availabilityPercent: round(a.percent, 3), availability24hPercent: round(a.percent24h, 3),
  };
}

// The `ps` request: one row per entity, by name, from the core's state alone (no /proc, no
// clock of its own: `wallMs` and `monoMs` are now).
export function psRows(state: HamState, wallMs: number, monoMs: number): PsRow[] {
  const rows: PsRow[] = [];
  const roles = new Map<string, { group: string; role: string | null }>();
  for (const group of state.groups.values()) for (const member of group.members) roles.set(member.name, { group: group.name, role: member.role });
  // Node entities (@NAME) have no process: `hamctl nodes` shows the nodes.
  const lookup = { entity: (name: string) => state.entities.get(name) };
  for (const entity of state.entities.values()) {
    if (entity.spec.kind === "node") continue;
    const waitingFor = entity.spec.readiness.requires.length === 0 ? [] : unmetRequirements(lookup, entity);
    rows.push({ ...psRow(entity, wallMs, monoMs, waitingFor), ...(roles.get(entity.name) ?? { group: null, role: null }) });
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function psStateOf(entity: EntityState): PsState {
  if (entity.spec.kind === "placeholder") return "placeholder";
  if (entity.spec.stop !== undefined) return entity.run.pid > 0 ? "stopping" : "stopped";
  if (entity.run.pid > 0 && !isReady(entity)) return "starting";
  if (entity.run.pid > 0) return entity.spec.kind === "self" ? "self-attached" : "running";
  if (entity.run.waiting) return "waiting";
  if (entity.run.restartAt !== null) return "backing off";
  if (entity.counters.gaveUp) return "gave up";
  return "dead";
}

function psRow(entity: EntityState, wallMs: number, monoMs: number, waitingFor: readonly string[]): Omit<PsRow, "group" | "role"> {
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
    ready: isReady(entity),
    requires: entity.spec.readiness.requires,
    waitingFor: entity.run.waiting ? waitingFor : [],
    ...(entity.spec.probes.length === 0 ? {} : { probe: probeSummary(entity), probeFailures: entity.counters.probeFailures ?? 0, probes: probeRows(entity) }),
    ...figures(availabilityOf(entity.counters, entity.counters.deaths, live, wallMs)),
  };
}
