// The Guardian's watch on a hung HAM (as OpenSAF's amfwd, or systemd's WatchdogSec): a ping
// on their channel every quarter of the limit; a ping left unanswered for longer than the
// limit means the HAM is hung (SIGSTOP, a blocked loop). The judgement runs after a turn of
// I/O (setImmediate), so answers queued while this process itself was descheduled are read
// first: a Guardian that stalled never blames the HAM for it.
export class Watchdog {
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  // Pings still unanswered: seq → when sent (performance.now), oldest first. The HAM answers
  // in order, so an answer settles its ping and every earlier one.
  private readonly unanswered = new Map<number, number>();

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
    for (const sent of this.unanswered.keys()) {
      if (sent > seq) break;
      this.unanswered.delete(sent);
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.seq += 1;
    this.unanswered.set(this.seq, performance.now());
    this.send({ ping: this.seq });
    setImmediate(() => {
      const oldest = this.unanswered.values().next();
      if (this.timer === null || oldest.done === true) return;
      const silent = performance.now() - oldest.value;
      if (silent <= this.limitMs) return;
      this.stop();
      this.onHung(silent);
    });
  }
}
