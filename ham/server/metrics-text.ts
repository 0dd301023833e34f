import { availabilityOf } from "../core/availability.js";
import type { EntityState, GroupState, HaState, HamState } from "../core/state.js";
import { groupServes } from "../core/tx.js";

// The per-entity and per-group families of `ham --metrics` as Prometheus text (format 0.0.4),
// written straight from the state at scrape time into one growing Buffer. Not through
// prom-client's Gauge and Counter, nor as one JS string: at 1,000 entities (7,000 samples) both
// left thousands of small objects alive in a young generation the HAM caps at 1 MB (ham/main.ts),
// and the garbage collector took most of a scrape (see bench/metrics.mjs). Bytes outside the JS
// heap, and label strings kept from one scrape to the next, leave it almost nothing to do.

type Family = readonly [name: string, type: "gauge" | "counter", help: string];

// The text being written: UTF-8 bytes in a Buffer that doubles when full.
export class TextSink {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private at = 0;

  write(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.at + text.length * 3 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + text.length * 3));
      this.buffer.copy(bigger, 0, 0, this.at);
      this.buffer = bigger;
    }
    this.at += this.buffer.write(text, this.at, "utf8");
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.at);
  }
}

// A label value as the text format wants it: backslash, double quote and newline escaped.
export function labelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : value;
}

const header = ([name, type, help]: Family): string => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;

const ROLES: readonly (HaState | "none")[] = ["active", "standby", "quiescing", "quiesced", "none"];

const ENTITY_FAMILIES = {
  up: ["hamd_entity_up", "gauge", "1 while a process of the entity runs, else 0."],
  restarts: ["hamd_entity_restarts_total", "counter", "Restarts of the entity (Num Restarts in its .info)."],
  deaths: ["hamd_entity_deaths_total", "counter", "Deaths of the entity's process."],
  abnormal: ["hamd_entity_abnormal_deaths_total", "counter", "Deaths by a core-dump signal (SIGSEGV, SIGABRT, ...)."],
  misses: ["hamd_entity_heartbeat_misses_total", "counter", "Times the entity's missed heartbeats reached its low or high threshold (CONDHBEATMISSEDLOW/HIGH)."],
  probes: ["hamd_entity_probe_failures_total", "counter", "Failed health probes of the entity."],
  availability: ["hamd_entity_availability_ratio", "gauge", "Time up over time up and down since the entity's first process (its .info's Availability, 0-1)."],
} as const satisfies Record<string, Family>;

const GROUP_FAMILIES = {
  role: ["hamd_group_member_role", "gauge", "1 for the role the member acknowledged last (none: no role, or it failed), 0 for the others."],
  failovers: ["hamd_group_failovers_total", "counter", "Failovers of the group (a standby made active after the active failed)."],
  switchovers: ["hamd_group_switchovers_total", "counter", "Switchovers of the group (asked for: hamctl switchover)."],
  failures: ["hamd_group_failures_total", "counter", "Failures of the group's serving member."],
  availability: ["hamd_group_availability_ratio", "gauge", "Time a member served over all the time since one first did (0-1)."],
} as const satisfies Record<string, Family>;

// A counter another part of the HAM may keep on an entity (issue 18's probes: `probeFailures`),
// read when it is there; the family has no sample for entities without it.
function probeFailuresOf(entity: EntityState): number | undefined {
  const value = (entity.counters as { readonly probeFailures?: unknown }).probeFailures;
  return typeof value === "number" ? value : undefined;
}

// `{entity="NAME"}` by entity name, kept across scrapes (made again only for new names).
export class EntityLabels {
  private readonly labels = new Map<string, string>();

  of(name: string): string {
    let found = this.labels.get(name);
    if (found === undefined) {
      // Names of removed entities go now and then, not at every scrape.
      if (this.labels.size > 1_024 && this.labels.size > 2 * this.seen) this.labels.clear();
      this.labels.set(name, (found = `{entity="${labelValue(name)}"`));
    }
    return found;
  }

  seen = 0;
}

// Node entities (@NAME, a cluster's nodes) have no process: `hamctl nodes` shows them, as ps leaves them out.
export function writeEntities(sink: TextSink, labels: EntityLabels, state: HamState, wallMs: number): void {
  const rows: EntityState[] = [];
  for (const entity of state.entities.values()) if (entity.spec.kind !== "node") rows.push(entity);
  labels.seen = rows.length;
  const each = (family: Family, value: (entity: EntityState) => number | undefined) => {
    sink.write(header(family));
    for (const entity of rows) {
      const found = value(entity);
      if (found === undefined) continue;
      // Piece by piece: a line made as one string first was garbage the collector had to handle.
      sink.write(family[0]);
      sink.write(labels.of(entity.name));
      sink.write("} ");
      sink.write(String(found));
      sink.write("\n");
    }
  };
  each(ENTITY_FAMILIES.up, (entity) => (entity.run.pid > 0 ? 1 : 0));
  each(ENTITY_FAMILIES.restarts, (entity) => entity.counters.restarts);
  each(ENTITY_FAMILIES.deaths, (entity) => entity.counters.deaths);
  each(ENTITY_FAMILIES.abnormal, (entity) => entity.counters.abnormalDeaths);
  sink.write(header(ENTITY_FAMILIES.misses));
  const misses = ENTITY_FAMILIES.misses[0];
  for (const entity of rows) {
    for (const [threshold, count] of [[',threshold="low"} ', entity.counters.missedLow], [',threshold="high"} ', entity.counters.missedHigh]] as const) {
      sink.write(misses);
      sink.write(labels.of(entity.name));
      sink.write(threshold);
      sink.write(String(count));
      sink.write("\n");
    }
  }
  each(ENTITY_FAMILIES.probes, probeFailuresOf);
  each(ENTITY_FAMILIES.availability, (entity) => {
    const percent = availabilityOf(entity.counters, entity.counters.deaths, entity.run.pid > 0, wallMs).percent;
    return percent === null ? undefined : percent / 100;
  });
}

// Groups are few (members of a group, not entities, are what grows): plain strings.
export function writeGroups(sink: TextSink, state: HamState, wallMs: number): void {
  const groups = [...state.groups.values()];
  sink.write(header(GROUP_FAMILIES.role));
  for (const group of groups) {
    for (const member of group.members) {
      const labels = `hamd_group_member_role{group="${labelValue(group.name)}",entity="${labelValue(member.name)}",role="`;
      for (const role of ROLES) sink.write(`${labels}${role}"} ${(member.role ?? "none") === role ? 1 : 0}\n`);
    }
  }
  const each = (family: Family, value: (group: GroupState) => number | undefined) => {
    sink.write(header(family));
    for (const group of groups) {
      const found = value(group);
      if (found !== undefined) sink.write(`${family[0]}{group="${labelValue(group.name)}"} ${found}\n`);
    }
  };
  each(GROUP_FAMILIES.failovers, (group) => group.counters.failovers);
  each(GROUP_FAMILIES.switchovers, (group) => group.counters.switchovers);
  each(GROUP_FAMILIES.failures, (group) => group.counters.failures);
  each(GROUP_FAMILIES.availability, (group) => {
    const percent = availabilityOf(group.counters, group.counters.failures, groupServes(group), wallMs).percent;
    return percent === null ? undefined : percent / 100;
  });
}
