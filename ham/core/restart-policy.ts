import type { RestartPolicy } from "../../lib/tree/types.js";

// Restart-storm policy (beyond QNX). A process that ran at least minUptime is restarted at
// once; one that died sooner waits a backoff that doubles from backoffInitialMs up to
// backoffMaxMs, and resets once a process stays up backoffResetMs. An optional budget of
// N restarts within W ms makes the restart action fail when exhausted.
export type RestartDecision =
  | { readonly kind: "now"; readonly backoffMs: number }
  | { readonly kind: "after"; readonly delayMs: number; readonly backoffMs: number }
  | { readonly kind: "give-up"; readonly reason: string };

export interface RestartHistory {
  readonly startedMs: number;
  readonly diedMs: number;
  readonly backoffMs: number;
  readonly restartTimes: readonly number[];
}

export function decideRestart(policy: RestartPolicy, history: RestartHistory, nowMs: number): RestartDecision {
  if (policy.budget !== null) {
    const since = nowMs - policy.budget.windowMs;
    const recent = history.restartTimes.filter((time) => time > since).length;
    if (recent >= policy.budget.restarts) {
      return {
        kind: "give-up",
        reason: `restart budget exhausted: ${recent} restarts within ${policy.budget.windowMs} ms`,
      };
    }
  }
  const uptime = history.diedMs - history.startedMs;
  if (uptime >= policy.backoffResetMs) return { kind: "now", backoffMs: 0 };
  if (uptime >= policy.minUptimeMs) return { kind: "now", backoffMs: history.backoffMs };
  const next = history.backoffMs === 0 ? policy.backoffInitialMs : Math.min(history.backoffMs * 2, policy.backoffMaxMs);
  return { kind: "after", delayMs: next, backoffMs: next };
}

// Keeps only the restart times a budget can still count.
export function trimRestartTimes(policy: RestartPolicy, times: readonly number[], nowMs: number): number[] {
  if (policy.budget === null) return [];
  const since = nowMs - policy.budget.windowMs;
  return times.filter((time) => time > since);
}
