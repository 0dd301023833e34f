// The Guardian's watch on a hung HAM (as OpenSAF's amfwd, or systemd's WatchdogSec): a ping
// on their channel every quarter of the limit; a ping left unanswered for longer than the
// limit means the HAM is hung (SIGSTOP, a blocked loop). The judgement runs after a turn of
// I/O (setImmediate), so answers queued while this process itself was descheduled are read
// first: a Guardian that stalled never blames the HAM for it.
export class Watchdog {
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  // When the oldest ping still unanswered was sent (performance.now), or null.
  private waitingSince: number | null = null;
  private readonly sentAt = new Map<number, number>();

  constructor(
    private readonly limitMs: number,
    private readonly send: (message: object) => void,
    private readonly onHung: (silentMs: number) => void,
  ) {}

  start(): void {
    if (this.limitMs <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), Math.max(10, this.limitMs / 4));
  }

  answered(seq: number): void {
    const sent = this.sentAt.get(seq);
    if (sent === undefined) return;
    for (const [other, at] of this.sentAt) if (at <= sent) this.sentAt.delete(other);
    this.waitingSince = this.sentAt.size === 0 ? null : Math.min(...this.sentAt.values());
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const now = performance.now();
    this.seq += 1;
    this.sentAt.set(this.seq, now);
    this.waitingSince ??= now;
    this.send({ ping: this.seq });
    setImmediate(() => {
      const since = this.waitingSince;
      if (this.timer === null || since === null) return;
      const silent = performance.now() - since;
      if (silent <= this.limitMs) return;
      this.stop();
      this.onHung(silent);
    });
  }
}
