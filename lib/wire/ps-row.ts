// The rows of `hamctl ps`: what the HAM answers to the `ps` request (ham/server/ps.ts), one per
// entity; hamctl adds each live process's CPU and memory from /proc (lib/hamctl/ps-table.ts).

// One word per row, by precedence (the first that holds): a placeholder; a live process
// ("self-attached" when it attached itself, else "running"); a restart waiting out its
// backoff; a restart budget spent ("gave up"); else "dead" (kept by HENTITYKEEPONDEATH, or
// for the moment between a death and its restart).
export type PsState = "placeholder" | "self-attached" | "running" | "backing off" | "gave up" | "dead";

export interface PsRow {
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
  // Availability (ham/core/availability.ts): up and down time since the first process, mean
  // time to repair and between failures (null before one), percent up since the first process
  // and over the last 24 h (null before the first process).
  readonly upMs: number;
  readonly downMs: number;
  readonly mttrMs: number | null;
  readonly mtbfMs: number | null;
  readonly availabilityPercent: number | null;
  readonly availability24hPercent: number | null;
}
