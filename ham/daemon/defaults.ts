import { SELF_CLOSE_GRACE_MS } from "../core/lifecycle.js";
import { DEFAULT_POLICY } from "../core/state.js";
import { PROBE_DEFAULTS } from "../core/probe-spec.js";

// Every default of the daemon, in one place.
export const DEFAULTS = {
  verbosity: 1,
  timestamps: "relative" as const,
  maxConnections: 20_000,
  // Adopted and attached-by-pid processes: polled this often (1,000 pids ≈ 2 % CPU, feasibility §2).
  pidPollMs: 50,
  // A self-attached child whose connection closed but whose exit was not seen by then is declared dead (the core's).
  selfCloseGraceMs: SELF_CLOSE_GRACE_MS,
  // Kill escalation: SIGTERM, then SIGKILL of the process group after this long.
  killGraceMs: 5_000,
  // The Guardian ends a HAM that leaves its ping unanswered this long, then takes over.
  watchdogMs: 1_000,
  // A writer whose unread output passes this is disconnected (slow or stuck client).
  maxBufferedReplyBytes: 64 * 1024 * 1024,
  // In a cluster: the node lease's TTL (etcd's minimum with its default election timeout), and
  // how long before "send time of the last acknowledged keepalive + TTL" the node says it is expiring.
  leaseTtlS: 2,
  leaseMarginMs: 300,
  // An entity's restart policy until ham_entity_policy (the core's).
  restartPolicy: DEFAULT_POLICY,
  // A probe's fields left unset (the core's; Kubernetes' defaults).
  probe: PROBE_DEFAULTS,
};
