import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { HamState } from "../core/state.js";
import { EntityLabels, TextSink, writeEntities, writeGroups } from "./metrics-text.js";

// The Prometheus endpoint's metric families (`ham --metrics`), read from the HAM's state when a
// scrape asks: nothing is counted on the restart or heartbeat path, and the counters are those
// the shared state keeps, so they go on across a takeover. The HAM's own figures are prom-client
// metrics with collect() callbacks, beside prom-client's default Node metrics; the per-entity and
// per-group families are written as text from the state in one pass each (metrics-text.ts says
// why). Loaded only by import() (daemon/metrics-service.ts): a HAM without --metrics loads no
// prom-client.

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
  render(): Promise<Buffer>;
}

type Sample = readonly [Record<string, string>, number];

export function createMetrics(source: MetricsSource): Metrics {
  const registry = new Registry();
  // Node's own: process_resident_memory_bytes, process_cpu_seconds_total, nodejs_eventloop_lag_*
  // (perf_hooks.monitorEventLoopDelay), heap, GC, handles.
  collectDefaultMetrics({ register: registry });
  // Gauges prom-client names like counters (promtool's lint refuses them); the same counts by type stay.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
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
  const labels = new EntityLabels();
  return {
    contentType: registry.contentType,
    render: async () => {
      const sink = new TextSink();
      // The same state for every family of one scrape.
      const state = source.state();
      const wallMs = source.wallMs();
      writeEntities(sink, labels, state, wallMs);
      writeGroups(sink, state, wallMs);
      sink.write(await registry.metrics());
      return sink.bytes();
    },
  };
}
