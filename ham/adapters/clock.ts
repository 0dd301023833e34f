// The HAM's clocks and timers, injected: the real ones here, a manual one in tests
// (test/ham/core.test.ts). Nothing else in the HAM reads a clock or arms a timer for the core.

export interface Clock {
  // Wall clock, ms since the epoch.
  wall(): number;
  // CLOCK_MONOTONIC in ms: the same clock in every process of the machine, so deadlines kept in
  // the shared state mean the same to the HAM that set them and to the one that takes over.
  mono(): number;
}

// performance.now() counts on the same clock from this process's start: the offset is read
// once, so each reading costs no BigInt (a HAM reads it for every event).
const MONO_ORIGIN = Number(process.hrtime.bigint()) / 1e6 - performance.now();
export const monoMs = (): number => MONO_ORIGIN + performance.now();

export const REAL_CLOCK: Clock = { wall: () => Date.now(), mono: monoMs };

// Named timers at monotonic deadlines.
export interface Timers {
  arm(id: string, at: number): void;
  cancel(id: string): void;
  stop(): void;
}

interface Armed {
  timer: NodeJS.Timeout;
  at: number;
  // The timer's own duration, which refresh() reuses.
  ms: number;
  // Being delivered: armed again from its own handler (a heartbeat's next period), it is
  // refreshed instead of replaced.
  delivering: boolean;
}

// Timers on setTimeout. A timer is delivered only once its deadline has passed (Node fires up
// to 1 ms early: it is re-armed for the rest) and after the event loop's turn of I/O, so that
// what waited in the sockets (a heartbeat) counts first. A timer re-armed with the same
// duration reuses its Timeout (refresh()): 10,000 heartbeat periods cost no new objects.
export class RealTimers implements Timers {
  private readonly armed = new Map<string, Armed>();
  private readonly due: Array<[string, Armed]> = [];

  constructor(private readonly clock: Clock, private readonly onFire: (id: string) => void) {}

  arm(id: string, at: number): void {
    const ms = Math.max(0, at - this.clock.mono());
    const existing = this.armed.get(id);
    if (existing !== undefined && Math.abs(existing.ms - ms) < 1) {
      existing.at = at;
      existing.delivering = false;
      existing.timer.refresh();
      return;
    }
    if (existing !== undefined) clearTimeout(existing.timer);
    const armed: Armed = { timer: setTimeout(() => this.fired(id, armed), ms), at, ms, delivering: false };
    this.armed.set(id, armed);
  }

  cancel(id: string): void {
    const armed = this.armed.get(id);
    if (armed === undefined) return;
    clearTimeout(armed.timer);
    this.armed.delete(id);
  }

  stop(): void {
    for (const armed of this.armed.values()) clearTimeout(armed.timer);
    this.armed.clear();
    this.due.length = 0;
  }

  private fired(id: string, armed: Armed): void {
    if (this.armed.get(id) !== armed || armed.delivering) return;
    const early = armed.at - this.clock.mono();
    if (early > 0) {
      armed.timer = setTimeout(() => this.fired(id, armed), early);
      armed.ms = early;
      return;
    }
    this.due.push([id, armed]);
    if (this.due.length === 1) setImmediate(() => this.deliver());
  }

  private deliver(): void {
    for (const [id, armed] of this.due.splice(0)) {
      // Re-armed or cancelled meanwhile: not this timer any more.
      if (this.armed.get(id) !== armed) continue;
      armed.delivering = true;
      this.onFire(id);
      if (this.armed.get(id) === armed && armed.delivering) this.armed.delete(id);
    }
  }
}
