// The rows of `hamctl ps`: what the HAM answers to the `ps` request (ham/server/ps.ts), one per
// entity; hamctl adds each live process's CPU and memory from /proc (lib/hamctl/ps-table.ts).

// One word per row, by precedence (the first that holds): a placeholder; `hamctl stop` or
// `delete` asked ("stopping" while its process lives, then "stopped"); a live process that has
// not said it is ready yet ("starting", readiness "notify"); a live process ("self-attached"
// when it attached itself, else "running"); a start held until what it requires is ready
// ("waiting", `waitingFor` says for what); a restart waiting out its backoff; a restart budget
// spent ("gave up"); else "dead" (kept by HENTITYKEEPONDEATH, or for the moment between a death
// and its restart).
export type PsState = "placeholder" | "stopping" | "stopped" | "starting" | "self-attached" | "running" | "waiting" | "backing off" | "gave up" | "dead";

// Availability (ham/core/availability.ts): up and down time since first up, mean time to
// repair and between failures (null before one), percent up since first up and over the last
// 24 h (null before it was first up).
export interface AvailabilityFigures {
  readonly upMs: number;
  readonly downMs: number;
  readonly mttrMs: number | null;
  readonly mtbfMs: number | null;
  readonly availabilityPercent: number | null;
  readonly availability24hPercent: number | null;
}

// A health probe of an entity (ham/server/probe-rows.ts). `result`: the last one since the
// process started (null: none yet, or no process); the counts are since it started.
export interface ProbeRow {
  readonly entity: string;
  readonly name: string;
  readonly kind: string;
  readonly use: string;
  readonly target: string;
  readonly result: "ok" | "failed" | null;
  readonly failing: boolean;
  readonly ready: boolean;
  readonly consecutiveFailures: number;
  readonly totalFailures: number;
  readonly lastError: string | null;
}

// Availability: since the entity's first process.
export interface PsRow extends AvailabilityFigures {
  readonly name: string;
  // "attached" (by pid or spawned by the HAM), "self" (ham_attach_self) or "placeholder".
  readonly kind: string;
  readonly state: PsState;
  // 0 when no process runs.
  readonly pid: number;
  // The process's start time in clock ticks since boot (/proc/PID/stat field 22): its identity.
  readonly startTime: number | null;
  // Wall ms since the epoch when the HAM saw the process start (or attach), null without one.
  readonly startedMs: number | null;
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly deaths: number;
  // How the last process ended ("exit 1", "killed by SIGKILL", ...), null before any death.
  readonly lastExit: string | null;
  // A backoff under way: ms until the restart.
  readonly restartInMs: number | null;
  // Ready (core/readiness.ts): its process runs and, for readiness "notify", said so.
  readonly ready: boolean;
  // What it requires, and those of them not ready (its start waits for them while it has no process).
  readonly requires: readonly string[];
  readonly waitingFor: readonly string[];
  // Its service group and the role it acknowledged there (null: none).
  readonly group: string | null;
  readonly role: string | null;
  // Its probes in one word ("-", "idle", "starting", "ok", "failing"), CONDPROBEFAIL episodes,
  // and each probe (absent for an entity without probes).
  readonly probe?: string;
  readonly probeFailures?: number;
  readonly probes?: readonly ProbeRow[];
}

// A service group, as `status --json` (its `groups`) and `hamctl ps` show it (ham/server/groups.ts).
// Availability: the service's, up while a member serves.
export interface GroupRow extends AvailabilityFigures {
  readonly name: string;
  readonly model: string;
  // In order of preference: the role acknowledged, one being assigned, failed (being stopped).
  readonly members: ReadonlyArray<{ readonly name: string; readonly role: string | null; readonly assigning: string | null; readonly failing: boolean }>;
  readonly active: readonly string[];
  readonly standby: readonly string[];
  readonly switchover: { readonly from: string; readonly to: string } | null;
  // The serving member failed this long ago and no other acknowledged active yet.
  readonly noActiveForMs: number | null;
  readonly failovers: number;
  readonly switchovers: number;
  readonly failures: number;
  readonly lastFailoverMs: number | null;
  readonly lastSwitchoverMs: number | null;
  // A group across nodes: every member NAME@NODE, the node holding its election (and its token,
  // when it is this one), the nodes it waits for (not in the cluster now).
  readonly cluster?: { readonly members: readonly string[]; readonly holder: string | null; readonly token: string | null; readonly waiting: readonly string[] };
}
