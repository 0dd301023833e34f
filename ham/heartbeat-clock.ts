import type { Heartbeat } from "../lib/tree/types.js";

// One period boundary of a heartbeating entity (reference §5.7, 7.1 wording): a period
// with at least one beat resets the count of consecutive misses; a period without one adds
// a miss. Reaching `low` / `high` misses fires MISSEDLOW / MISSEDHIGH once (0 disables);
// the state then stays missed until a heartbeat_healthy action runs.
export interface TickResult {
  readonly fire: ReadonlyArray<"missed-low" | "missed-high">;
  // False once nothing more can fire before heartbeat_healthy: the timer may stop.
  readonly keepTicking: boolean;
}

export function tickHeartbeat(beat: Heartbeat): TickResult {
  const fire: Array<"missed-low" | "missed-high"> = [];
  if (beat.beatInPeriod) {
    beat.beatInPeriod = false;
    beat.consecutiveMisses = 0;
  } else {
    beat.consecutiveMisses += 1;
    if (beat.low > 0 && beat.state === "HEALTHY" && beat.consecutiveMisses >= beat.low) {
      beat.state = "MISSEDLOW";
      fire.push("missed-low");
    }
    if (beat.high > 0 && beat.state !== "MISSEDHIGH" && beat.consecutiveMisses >= beat.high) {
      beat.state = "MISSEDHIGH";
      fire.push("missed-high");
    }
  }
  const canFireMore = beat.state !== "MISSEDHIGH" && (beat.high > 0 || (beat.low > 0 && beat.state === "HEALTHY"));
  return { fire, keepTicking: canFireMore };
}

export function markHealthy(beat: Heartbeat): void {
  beat.state = "HEALTHY";
  beat.consecutiveMisses = 0;
  beat.beatInPeriod = false;
}
