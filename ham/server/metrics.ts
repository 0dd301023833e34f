import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { availabilityOf } from "../core/availability.js";
import type { EntityState, GroupState, HaState, HamState } from "../core/state.js";
import { groupServes } from "../core/tx.js";

// The Prometheus endpoint's metric families (`ham --metrics`), read from the HAM's state when a
// scrape asks (each family's collect()): nothing is counted on the restart or heartbeat path, and
// the counters are those the shared state keeps, so they go on across a takeover. Loaded only by
// import() (daemon/metrics-service.ts): prom-client is not loaded by a HAM without --metrics.

// What the families read, at scrape time.
export interface MetricsSource {
  state(): HamState;
  wallMs(): number;
  guardianPid(): number;
  clients(): number;
  logWriteFailures(): number;
  version: string;
}

export interface Metrics {
  readonly contentType: string;
  render(): Promise<string>;
}

type Labels = Record<string, string>;
type Sample = readonly [Labels, number];

const ROLES: readonly (HaState | "none")[] = ["active", "standby", "quiescing", "quiesced", "none"];
// Node entities (@NAME, a cluster's nodes) have no process: `hamctl nodes` shows them, as ps leaves them out.
const supervised = (entity: EntityState): boolean => entity.spec.kind !== "node";

// A counter another part of the HAM may keep on an entity (issue 18's probes: `probeFailures`),
// read when it is there; the family has no sample for entities without it.
function probeFailuresOf(entity: EntityState): number | undefined {
  const value = (entity.counters as { readonly probeFailures?: unknown }).probeFailures;
  return typeof value === "number" ? value : undefined;
}

export function createMetrics(source: MetricsSource): Metrics {
  const registry = new Registry();
  // Node's own: process_resident_memory_bytes, process_cpu_seconds_total, nodejs_eventloop_lag_*
  // (perf_hooks.monitorEventLoopDelay), heap, GC, handles.
  collectDefaultMetrics({ register: registry });
  // Gauges prom-client names like counters (promtool's lint refuses them); the same counts by type stay.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  const entities = function* (): Generator<EntityState> {
    for (const entity of source.state().entities.values()) if (supervised(entity)) yield entity;
  };
  const perEntity = (value: (entity: EntityState) => number | undefined) => function* (): Generator<Sample> {
    for (const entity of entities()) {
      const found = value(entity);
      if (found !== undefined) yield [{ entity: entity.name }, found];
    }
  };
  const family = (kind: "gauge" | "counter", name: string, help: string, labelNames: readonly string[], samples: () => Iterable<Sample>) => {
    if (kind === "gauge") {
      new Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge) {
        this.reset();
        for (const [labels, value] of samples()) this.set(labels, value);
      } });
    } else {
      // A counter's value is the state's count: set once per scrape (reset, then one inc from 0).
      new Counter({ name, help, labelNames, registers: [registry], collect(this: Counter) {
        this.reset();
        for (const [labels, value] of samples()) this.inc(labels, value);
      } });
    }
  };
  const ENTITY = ["entity"];
  family("gauge", "hamd_entity_up", "1 while a process of the entity runs, else 0.", ENTITY, perEntity((entity) => (entity.run.pid > 0 ? 1 : 0)));
  family("counter", "hamd_entity_restarts_total", "Restarts of the entity (Num Restarts in its .info).", ENTITY, perEntity((entity) => entity.counters.restarts));
  family("counter", "hamd_entity_deaths_total", "Deaths of the entity's process.", ENTITY, perEntity((entity) => entity.counters.deaths));
  family("counter", "hamd_entity_abnormal_deaths_total", "Deaths by a core-dump signal (SIGSEGV, SIGABRT, ...).", ENTITY,
    perEntity((entity) => entity.counters.abnormalDeaths));
  family("counter", "hamd_entity_heartbeat_misses_total", "Times the entity's missed heartbeats reached its low or high threshold (CONDHBEATMISSEDLOW/HIGH).",
    ["entity", "threshold"], function* () {
      for (const entity of entities()) {
        yield [{ entity: entity.name, threshold: "low" }, entity.counters.missedLow];
        yield [{ entity: entity.name, threshold: "high" }, entity.counters.missedHigh];
      }
    });
  family("counter", "hamd_entity_probe_failures_total", "Failed health probes of the entity.", ENTITY, perEntity(probeFailuresOf));
  family("gauge", "hamd_entity_availability_ratio", "Time up over time up and down since the entity's first process (its .info's Availability, 0-1).",
    ENTITY, perEntity((entity) => {
      const percent = availabilityOf(entity.counters, entity.counters.deaths, entity.run.pid > 0, source.wallMs()).percent;
      return percent === null ? undefined : percent / 100;
    }));

  const groups = () => source.state().groups.values();
  family("gauge", "hamd_group_member_role", "1 for the role the member acknowledged last (none: no role, or it failed), 0 for the others.",
    ["group", "entity", "role"], function* () {
      for (const group of groups()) {
        for (const member of group.members) {
          const role = member.role ?? "none";
          for (const each of ROLES) yield [{ group: group.name, entity: member.name, role: each }, each === role ? 1 : 0];
        }
      }
    });
  const perGroup = (value: (group: GroupState) => number | undefined) => function* (): Generator<Sample> {
    for (const group of groups()) {
      const found = value(group);
      if (found !== undefined) yield [{ group: group.name }, found];
    }
  };
  family("counter", "hamd_group_failovers_total", "Failovers of the group (a standby made active after the active failed).", ["group"],
    perGroup((group) => group.counters.failovers));
  family("counter", "hamd_group_switchovers_total", "Switchovers of the group (asked for: hamctl switchover).", ["group"], perGroup((group) => group.counters.switchovers));
  family("counter", "hamd_group_failures_total", "Failures of the group's serving member.", ["group"], perGroup((group) => group.counters.failures));
  family("gauge", "hamd_group_availability_ratio", "Time a member served over all the time since one first did (0-1).", ["group"], perGroup((group) => {
    const percent = availabilityOf(group.counters, group.counters.failures, groupServes(group), source.wallMs()).percent;
    return percent === null ? undefined : percent / 100;
  }));

  const one = (value: () => number) => (): Iterable<Sample> => [[{}, value()]];
  family("counter", "hamd_takeovers_total", "Times a Guardian took over from a dead or hung HAM (Ham Failures).", [], one(() => source.state().meta.hamFailures));
  family("counter", "hamd_guardian_failures_total", "Deaths of a Guardian (Guardian Failures).", [], one(() => source.state().meta.guardianFailures));
  family("gauge", "hamd_protected", "1 while a ready Guardian stands behind the HAM.", [], one(() => (source.guardianPid() > 0 ? 1 : 0)));
  family("gauge", "hamd_entities", "Entities the HAM knows (node entities included).", [], one(() => source.state().entities.size));
  family("gauge", "hamd_firings", "Conditions fired whose actions are under way: running (first in their queue) or queued behind another.",
    ["state"], () => {
      const { firings, queues } = source.state();
      let queued = 0;
      for (const ids of queues.values()) queued += Math.max(0, ids.length - 1);
      return [[{ state: "running" }, firings.size - queued], [{ state: "queued" }, queued]];
    });
  family("gauge", "hamd_firing_queue_max_depth", "Firings in the longest action queue (QNX's NOWAIT/OTHER/INDEPENDENT queues, per entity here).", [], () => {
    let longest = 0;
    for (const ids of source.state().queues.values()) longest = Math.max(longest, ids.length);
    return [[{}, longest]];
  });
  family("gauge", "hamd_clients", "Client connections to the HAM's socket.", [], one(() => source.clients()));
  family("counter", "hamd_log_write_failures_total", "Activity log lines dropped because they could not be written.", [], one(() => source.logWriteFailures()));
  family("gauge", "hamd_info", "hamd's version and Node.js's (node), value 1.", ["version", "node"],
    () => [[{ version: source.version, node: process.versions.node }, 1]]);
  return { contentType: registry.contentType, render: () => registry.metrics() };
}
