import { HamError } from "../../lib/errors.js";
import type { ProbeSpec } from "../../lib/tree/types.js";
import { probing } from "./probe-change.js";
import { LOG_LEVEL } from "./describe.js";
import { fire } from "./firings.js";
import { describeProbe, readProbeSpec } from "./probe-spec.js";
import { entityOf, type EntityState } from "./state.js";
import type { Request } from "./specs.js";
import type { Tx } from "./tx.js";
import { refuseNode } from "./nodes/node-entities.js";

// Health probes: the specs are the entity's (journaled with it); the checks run in the prober
// process (ham/adapters/prober-link.ts, prober/), which the core starts and stops through
// effects and whose results come back as `probe-results` events. What the results have done so
// far (ProbeRun) is not kept in the shared state: a HAM that takes over counts again from zero.

export interface ProbeRun {
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  // Checks failed since the process started (volatile, as the rest).
  readonly totalFailures: number;
  readonly lastResult: "ok" | "failed" | null;
  readonly lastError: string | null;
  // In a failed episode: failureThreshold failures reached, successThreshold passes not yet.
  readonly failing: boolean;
  // A readiness probe passed since the process started.
  readonly ready: boolean;
}

export interface ProbeResult {
  readonly entity: string;
  // The process the check was made for: a result for an earlier process is dropped.
  readonly pid: number;
  readonly probe: string;
  readonly ok: boolean;
  readonly error: string | null;
}

const FRESH: ProbeRun = Object.freeze({
  consecutiveFailures: 0, consecutiveSuccesses: 0, totalFailures: 0, lastResult: null, lastError: null, failing: false, ready: false,
});

export const probeRunOf = (entity: EntityState, name: string): ProbeRun => entity.run.probes?.get(name) ?? FRESH;

// Starts an adopted process's probes (a takeover: the state read back, no change of pid).
export function startProbes(tx: Tx, name: string): void {
  const entity = tx.entity(name);
  if (entity !== undefined && probing(entity)) tx.emit({ kind: "probe-start", entity: name, pid: entity.run.pid, probes: entity.spec.probes });
}

function probeTarget(tx: Tx, request: Request): EntityState {
  const entity = entityOf(tx.state, request.args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity has no process to probe");
  refuseNode(entity, "a probe");
  return entity;
}

// ham_entity_probe: adds the probe, or replaces the entity's probe of the same name.
export function setProbe(tx: Tx, request: Request): unknown {
  const entity = probeTarget(tx, request);
  const spec = readProbeSpec(request.args.raw("probe"));
  const probes = [...entity.spec.probes.filter((probe) => probe.name !== spec.name), spec];
  tx.spec(entity.name, { probes });
  tx.log(LOG_LEVEL.detail, "info", { event: "probe-set", entity: entity.name, probe: spec.name }, `${entity.name}: probe ${spec.name} (${describeProbe(spec)}) set`);
  return 0;
}

// ham_entity_probe_remove: ENOENT for a name the entity has no probe of.
export function removeProbe(tx: Tx, request: Request): unknown {
  const entity = probeTarget(tx, request);
  const name = request.args.name("probe", "probe");
  if (!entity.spec.probes.some((probe) => probe.name === name)) throw new HamError("ENOENT", `${entity.name} has no probe ${name}`);
  tx.spec(entity.name, { probes: entity.spec.probes.filter((probe) => probe.name !== name) });
  return 0;
}

// Results from the prober (only those that change a count or a state, batched).
export function probeResults(tx: Tx, results: readonly ProbeResult[]): void {
  for (const result of results) probeResult(tx, result);
}

function probeResult(tx: Tx, result: ProbeResult): void {
  const entity = tx.entity(result.entity);
  if (entity === undefined || result.pid <= 0 || entity.run.pid !== result.pid) return;
  const spec = entity.spec.probes.find((probe) => probe.name === result.probe);
  if (spec === undefined) return;
  const before = probeRunOf(entity, spec.name);
  let next: ProbeRun = result.ok
    ? { ...before, consecutiveSuccesses: before.consecutiveSuccesses + 1, consecutiveFailures: 0, lastResult: "ok", lastError: null }
    : {
      ...before, consecutiveFailures: before.consecutiveFailures + 1, consecutiveSuccesses: 0, totalFailures: before.totalFailures + 1,
      lastResult: "failed", lastError: result.error,
    };
  const failed = !before.failing && next.consecutiveFailures >= spec.failureThreshold;
  const recovered = before.failing && next.consecutiveSuccesses >= spec.successThreshold;
  const ready = spec.use === "readiness" && !before.ready && next.consecutiveSuccesses >= spec.successThreshold;
  if (failed || recovered || ready) next = { ...next, failing: failed || (before.failing && !recovered), ready: before.ready || ready };
  tx.quietRun(entity.name, { probes: new Map(entity.run.probes ?? []).set(spec.name, next) });
  const fields = { entity: entity.name, pid: result.pid, probe: spec.name, use: spec.use };
  if (failed) episodeStarts(tx, entity.name, spec, next, fields);
  if (recovered) {
    tx.log(LOG_LEVEL.events, "info", { ...fields, event: "probe-passed" },
      `${entity.name}: probe ${spec.name} passes again (${next.consecutiveSuccesses} in a row)`);
  }
  if (ready) {
    tx.log(LOG_LEVEL.events, "info", { ...fields, event: "probe-ready" }, `${entity.name}: readiness probe ${spec.name} passed: ready`);
    tx.emit({ kind: "ready", entity: entity.name, pid: result.pid });
  }
}

// A liveness probe's failed episode fires CONDPROBEFAIL (once: the episode ends when it passes
// again); a readiness probe's is only logged.
function episodeStarts(tx: Tx, name: string, spec: ProbeSpec, run: ProbeRun, fields: Record<string, unknown>): void {
  const what = `${name}: probe ${spec.name} (${describeProbe(spec)}) failed ${run.consecutiveFailures} times in a row: ${run.lastError ?? "failed"}`;
  tx.log(LOG_LEVEL.events, "warn", { ...fields, event: "probe-failed", error: run.lastError }, what);
  if (spec.use !== "liveness") return;
  const counters = tx.entity(name)?.counters;
  if (counters !== undefined) tx.counters(name, { probeFailures: (counters.probeFailures ?? 0) + 1 });
  fire(tx, name, { kind: "probe", probe: spec.name });
}
