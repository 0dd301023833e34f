import type { RestartPolicy } from "../lib/tree/types.js";

// Every default of the daemon, in one place.
export const DEFAULTS = {
  verbosity: 1,
  timestamps: "relative" as const,
  maxConnections: 20_000,
  // Adopted and attached-by-pid processes: polled this often (1,000 pids ≈ 2 % CPU, feasibility §2).
  pidPollMs: 50,
  // A self-attached child whose connection closed but whose exit was not seen by then is declared dead.
  selfCloseGraceMs: 1_000,
  // Kill escalation: SIGTERM, then SIGKILL of the process group after this long.
  killGraceMs: 5_000,
  // The Guardian ends a HAM that leaves its ping unanswered this long, then takes over.
  watchdogMs: 1_000,
  // A writer whose unread output passes this is disconnected (slow or stuck client).
  maxBufferedReplyBytes: 64 * 1024 * 1024,
  restartPolicy: {
    minUptimeMs: 1_000,
    backoffInitialMs: 100,
    backoffMaxMs: 30_000,
    backoffResetMs: 10_000,
    budget: null,
  } satisfies RestartPolicy,
};
