import { LOG_LEVEL } from "./describe.js";
import type { HeartbeatRun, HeartbeatSpec } from "./state.js";
import { heartbeatTimer } from "./tx.js";
import type { Trigger } from "./triggers.js";
import type { Tx } from "./tx.js";

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

// Heartbeats in the HAM: beats mark the period under way; the end of each period is a timer.
// Periods are anchored where watching began; a period is judged only once it has ended.

// Starts watching periods: the first ends one period (plus `graceMs`) from now. After a
// takeover the grace is one period, so beats lost while no HAM listened never count.
export function armHeartbeat(tx: Tx, name: string, graceMs: number): void {
  const entity = tx.entity(name);
  const beat = entity?.run.heartbeat;
  if (entity === undefined || beat == null) return;
  if (!watched(entity.spec.heartbeat)) {
    if (beat.boundary !== null) tx.emit({ kind: "cancel", id: heartbeatTimer(name) });
    return;
  }
  const boundary = tx.at.mono + periodMs(entity.spec.heartbeat) + graceMs;
  tx.quietRun(name, { heartbeat: { ...beat, beatInPeriod: false, boundary } });
  tx.emit({ kind: "arm", id: heartbeatTimer(name), at: boundary });
}

// After a takeover, an entity's heartbeat deadline starts again with one period of grace: at
// the takeover, and once more when the HAM serves its socket (its clients can beat only from
// then; a slow start ate the first grace, and the tests saw 100 false misses on a loaded machine).
export function graceHeartbeat(tx: Tx, name: string): void {
  const entity = tx.entity(name);
  const beat = entity?.run.heartbeat;
  if (entity !== undefined && entity.run.pid > 0 && watched(entity.spec.heartbeat) && beat != null && beat.state !== "MISSEDHIGH") {
    armHeartbeat(tx, name, periodMs(entity.spec.heartbeat));
  }
}

export function beat(tx: Tx, pid: number, names: readonly string[]): void {
  for (const name of names) {
    const entity = tx.entity(name);
    const run = entity?.run;
    if (run === undefined || run.heartbeat === null || run.pid !== pid) continue;
    tx.quietRun(name, { heartbeat: { ...run.heartbeat, beatInPeriod: true, lastBeatMs: tx.at.wall } });
  }
}

// A period's end: judged (missed periods counted, MISSEDLOW/MISSEDHIGH fired), the next armed.
// Returns the triggers to fire.
export function periodEnded(tx: Tx, name: string): Trigger[] {
  const entity = tx.entity(name);
  const beat = entity?.run.heartbeat;
  if (entity === undefined || beat == null || beat.boundary === null || !watched(entity.spec.heartbeat)) return [];
  const now = tx.at.mono;
  // A timer may fire up to 1 ms early: a period is never judged before it has ended.
  if (now < beat.boundary) {
    tx.emit({ kind: "arm", id: heartbeatTimer(name), at: beat.boundary });
    return [];
  }
  const period = periodMs(entity.spec.heartbeat);
  const lateMs = now - beat.boundary;
  // A period that ended more than a period ago was not watched (the HAM itself was stopped
  // or starved): like the periods no HAM watched during a takeover, it is not held against
  // the client, and the next one is judged as usual.
  const judged = lateMs > period ? { beat, fire: [], keepTicking: true } : judgePeriod(entity.spec.heartbeat, beat);
  let boundary: number | null = null;
  if (judged.keepTicking) {
    boundary = beat.boundary + period;
    while (boundary <= now) boundary += period;
    tx.emit({ kind: "arm", id: heartbeatTimer(name), at: boundary });
  }
  tx.quietRun(name, { heartbeat: { ...judged.beat, boundary } });
  const late = Math.round(lateMs * 100) / 100;
  for (const kind of judged.fire) {
    const counters = tx.entity(name)?.counters;
    if (counters === undefined) break;
    tx.counters(name, kind === "missed-low" ? { missedLow: counters.missedLow + 1 } : { missedHigh: counters.missedHigh + 1 });
    tx.log(LOG_LEVEL.events, "warn", { event: kind, entity: name, pid: entity.run.pid, lateMs: late },
      `${name} missed heartbeats (${kind}), noticed ${late} ms after the deadline`);
  }
  return judged.fire.map((kind) => ({ kind }));
}
