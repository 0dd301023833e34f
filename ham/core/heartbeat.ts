import type { HeartbeatRun, HeartbeatSpec } from "./state.js";

// One period boundary of a heartbeating entity (reference §5.7, 7.1 wording): a period
// with at least one beat resets the count of consecutive misses; a period without one adds
// a miss. Reaching `low` / `high` misses fires MISSEDLOW / MISSEDHIGH once (0 disables);
// the state then stays missed until a heartbeat_healthy action runs.
export interface Judged {
  readonly beat: HeartbeatRun;
  readonly fire: ReadonlyArray<"missed-low" | "missed-high">;
  // False once nothing more can fire before heartbeat_healthy: no period is watched then.
  readonly keepTicking: boolean;
}

export function judgePeriod(spec: HeartbeatSpec, beat: HeartbeatRun): Judged {
  if (beat.beatInPeriod) return { beat: { ...beat, beatInPeriod: false, consecutiveMisses: 0 }, fire: [], keepTicking: true };
  const fire: Array<"missed-low" | "missed-high"> = [];
  const misses = beat.consecutiveMisses + 1;
  let state = beat.state;
  if (spec.low > 0 && state === "HEALTHY" && misses >= spec.low) {
    state = "MISSEDLOW";
    fire.push("missed-low");
  }
  if (spec.high > 0 && state !== "MISSEDHIGH" && misses >= spec.high) {
    state = "MISSEDHIGH";
    fire.push("missed-high");
  }
  const keepTicking = state !== "MISSEDHIGH" && (spec.high > 0 || (spec.low > 0 && state === "HEALTHY"));
  return { beat: { ...beat, state, consecutiveMisses: misses }, fire, keepTicking };
}

export function healthy(beat: HeartbeatRun): HeartbeatRun {
  return { ...beat, state: "HEALTHY", consecutiveMisses: 0, beatInPeriod: false };
}

export const freshBeat = (): HeartbeatRun => ({
  state: "HEALTHY", beatInPeriod: false, consecutiveMisses: 0, lastBeatMs: null, boundary: null,
});

// Whether periods are watched at all (a period and a threshold).
export const watched = (spec: HeartbeatSpec | null): spec is HeartbeatSpec =>
  spec !== null && spec.periodNs > 0 && (spec.low > 0 || spec.high > 0);

export const periodMs = (spec: HeartbeatSpec): number => spec.periodNs / 1e6;
