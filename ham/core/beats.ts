import { LOG_LEVEL } from "./log-levels.js";
import { judgePeriod, periodMs, watched } from "./heartbeat.js";
import { heartbeatTimer } from "./timers.js";
import type { Tx } from "./tx.js";
import type { Trigger } from "./triggers.js";

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
