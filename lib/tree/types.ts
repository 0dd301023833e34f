// The HAM's tree: entity → condition → action (→ fail-actions). Plain data, indexed by
// name in insertion-ordered Maps (actions run FIFO in that order).

// "node": a node of the cluster (`@NAME`, ham/core/nodes/), no process.
export type EntityKind = "attached" | "self" | "placeholder" | "global" | "node";
export type HeartbeatState = "HEALTHY" | "MISSEDLOW" | "MISSEDHIGH";

export type ActionSpec =
  | { readonly kind: "restart"; readonly line: string }
  | { readonly kind: "execute"; readonly line: string }
  | { readonly kind: "waitfor"; readonly path: string | null; readonly delayMs: number }
  | { readonly kind: "pulse"; readonly pid: number; readonly chid: number; readonly code: number; readonly value: number }
  | { readonly kind: "signal"; readonly pid: number; readonly signal: number; readonly code: number; readonly value: number }
  | { readonly kind: "healthy" }
  | { readonly kind: "log"; readonly message: string; readonly prefix: boolean; readonly verbosity: number };

export type FailSpec = Exclude<ActionSpec, { kind: "restart" } | { kind: "healthy" }>;

export interface FailAction {
  readonly name: string;
  readonly spec: FailSpec;
  runs: number;
  failures: number;
}

export interface Action {
  readonly name: string;
  readonly spec: ActionSpec;
  flags: number;
  enabled: boolean;
  // Set when removed by an API call: a queued firing then skips it.
  removed: boolean;
  runs: number;
  failures: number;
  // Null until the first fail-action (most actions have none; an empty Map costs ~180 B).
  fails: Map<string, FailAction> | null;
}

export type ConditionFilter =
  | { readonly kind: "plain" }
  // CONDDEATH only: fires on a death that is a failure (anything but exit status 0), hamd's
  // extension behind `restart: on-failure` (QNX's CONDABNORMALDEATH sees core dumps only).
  | { readonly kind: "failure" }
  | { readonly kind: "state"; readonly from: number; readonly to: number }
  | { readonly kind: "raise"; readonly type: number; readonly class: number; readonly severity: number };

export interface Condition {
  readonly name: string;
  readonly type: number;
  readonly filter: ConditionFilter;
  flags: number;
  enabled: boolean;
  fired: number;
  readonly actions: Map<string, Action>;
}

export interface Heartbeat {
  readonly periodNs: number;
  readonly low: number;
  readonly high: number;
  state: HeartbeatState;
  beatInPeriod: boolean;
  consecutiveMisses: number;
  lastBeatMs: number | null;
}

export interface RestartPolicy {
  readonly minUptimeMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly backoffResetMs: number;
  // Budget: at most `restarts` restarts within `windowMs`; null = unlimited.
  readonly budget: { readonly restarts: number; readonly windowMs: number } | null;
  // The entity's output files (RUN_DIR/output/): each kept under `maxBytes`, `files` in all
  // with the rotated ones; null = the defaults (10 MB × 3).
  readonly output: OutputLimits | null;
  // What raised faults of each severity make the HAM do; null (or an unset field): the
  // group's policy, else GROUP_FAULTS for a group member, else nothing (core/faults.ts).
  readonly faults?: FaultPolicy | null;
}

export type FaultResponse = "none" | "log" | "restart" | "failover";

export interface FaultPolicy {
  readonly minor?: FaultResponse;
  readonly major?: FaultResponse;
  readonly fatal?: FaultResponse;
}

// A health probe (ham_entity_probe, `probes:` in a config file), run by the prober process
// against the entity's running process. Defaults are filled in when it is read (core/probes.ts).
export type ProbeUse = "liveness" | "readiness";
export interface ProbeTiming {
  readonly name: string;
  readonly use: ProbeUse;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  // No probe runs this long after the process started (Kubernetes' initialDelaySeconds).
  readonly startGraceMs: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}
export type ProbeSpec = ProbeTiming & (
  | { readonly kind: "exec"; readonly command: string }
  | { readonly kind: "http"; readonly url: string; readonly bodyContains: string | null; readonly bodyMatches: string | null }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
);

export interface OutputLimits {
  readonly maxBytes: number;
  readonly files: number;
}

export interface Entity {
  readonly name: string;
  kind: EntityKind;
  pid: number;
  // Start time of pid in clock ticks since boot (/proc/PID/stat field 22): its identity.
  startTime: number | null;
  // Whether the HAM spawned pid (death seen by 'exit') or polls it.
  ownChild: boolean;
  command: string | null;
  flags: number;
  enabled: boolean;
  heartbeat: Heartbeat | null;
  policy: RestartPolicy;
  readonly conditions: Map<string, Condition>;
  createdMs: number;
  startedMs: number;
  lastDeathMs: number | null;
  restartedMs: number | null;
  restarts: number;
  deaths: number;
  abnormalDeaths: number;
  missedLow: number;
  missedHigh: number;
  lastState: number;
  lastExit: string | null;
  restartTimes: number[];
  backoffMs: number;
  gaveUp: boolean;
  // Set before the HAM spawns the entity's process (its env carries HAM_SPAWN=token), so a
  // HAM that takes over can find a process spawned just before the old one died.
  spawnToken: string | null;
  // A restart waiting out its backoff: when it is due (monoMs).
  restartAt: number | null;
  // Self-attached: the client session that attached it (it gets it back after a takeover).
  clientToken: string | null;
}

export interface HamInfo {
  readonly hamPid: number;
  readonly guardianPid: number;
  readonly hamFailures: number;
  readonly guardianFailures: number;
}
