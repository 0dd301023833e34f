
// Availability (AIS: A = MTTF / (MTTF + MTTR)). An entity is up while a process of it runs and
// down from a death until a process runs again; time is counted from its first process on.
// The counters close an interval at each change (`accounted`, called by the Tx whenever an
// entity's pid goes from 0 to a process or back); the figures are computed when asked, with the
// asker's now, so the interval still open counts too.

// Availability (availability.ts): time up and down, closed at each change between the two (an
// entity's process running or not; a group's member serving or not), since it was first up.
export interface AvailabilityCounters {
  readonly upMs: number;
  readonly downMs: number;
  // When it last went up or down (wall ms); null before it was first up.
  readonly since: number | null;
  readonly firstUpMs: number | null;
  // Outages that ended (down, then up again).
  readonly repairs: number;
  // Outages of the last 24 h: [start, end] in wall ms, end null while it lasts.
  readonly outages: ReadonlyArray<readonly [number, number | null]>;
}

export const DAY_MS = 24 * 60 * 60 * 1000;
// Outages kept for the 24 h figure, at most.
const MAX_OUTAGES = 256;

export function accounted<C extends AvailabilityCounters>(counters: C, wasUp: boolean, isUp: boolean, nowMs: number): C {
  if (wasUp === isUp) return counters;
  const since = counters.since;
  if (isUp) {
    // A process again: the outage under way (if any) ends.
    const outages = counters.outages.map(([start, end]) => (end === null ? [start, nowMs] as const : [start, end] as const));
    return {
      ...counters, since: nowMs, firstUpMs: counters.firstUpMs ?? nowMs, outages,
      downMs: counters.downMs + (since === null ? 0 : Math.max(0, nowMs - since)),
      repairs: counters.repairs + (since === null ? 0 : 1),
    };
  }
  if (since === null) return counters;
  const recent = counters.outages.filter(([, end]) => end === null || end > nowMs - DAY_MS).slice(-(MAX_OUTAGES - 1));
  return { ...counters, since: nowMs, upMs: counters.upMs + Math.max(0, nowMs - since), outages: [...recent, [nowMs, null]] };
}

export interface Availability {
  readonly upMs: number;
  readonly downMs: number;
  // Mean time to repair (a death to a process again) and between failures (up + down per death);
  // null before there is one.
  readonly mttrMs: number | null;
  readonly mtbfMs: number | null;
  // Percent of the time up since the first process, and over the last 24 h (or since the first
  // process when that is sooner); null before the first process.
  readonly percent: number | null;
  readonly percent24h: number | null;
}

// `failures`: how many times it went down (an entity's deaths, a group's serving member's failures).
export function availabilityOf(counters: AvailabilityCounters, failures: number, up: boolean, nowMs: number): Availability {
  const open = counters.since === null ? 0 : Math.max(0, nowMs - counters.since);
  const upMs = counters.upMs + (up ? open : 0);
  const downMs = counters.downMs + (up ? 0 : open);
  const total = upMs + downMs;
  const windowStart = Math.max(nowMs - DAY_MS, counters.firstUpMs ?? nowMs);
  let down24 = 0;
  for (const [start, end] of counters.outages) {
    down24 += Math.max(0, Math.min(end ?? nowMs, nowMs) - Math.max(start, windowStart));
  }
  const window = nowMs - windowStart;
  return {
    upMs, downMs,
    mttrMs: counters.repairs === 0 ? null : counters.downMs / counters.repairs,
    mtbfMs: failures === 0 || counters.firstUpMs === null ? null : total / failures,
    percent: counters.firstUpMs === null || total === 0 ? null : (100 * upMs) / total,
    percent24h: counters.firstUpMs === null || window <= 0 ? null : (100 * Math.max(0, window - down24)) / window,
  };
}
