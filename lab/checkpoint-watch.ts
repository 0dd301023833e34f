// The cluster lab's invariant "no acknowledged checkpoint write lost" (issue 17), from the
// cross-node group's members' reports (member-counter.ts): each value a member's HAM acknowledged
// writing to the group's checkpoint (`ckpt-ack`, reported after the acknowledgement), and each
// value a member read on becoming active (`ckpt-read`, with the moment it began the read). A read
// must return at least every value acknowledged before it began: the acknowledgement came after
// etcd committed the write, and etcd's reads are linearizable. Reports arrive on one socket per
// member, in no set order across members: judged once the sockets are drained.

const DRAIN_MS = 100;

export interface CheckpointReport {
  readonly kind: string;
  readonly entity: string;
  readonly pid: number;
  // The report's moment (system monotonic ms).
  readonly at: number;
  readonly value?: unknown;
  readonly readAt?: unknown;
  readonly code?: unknown;
}

export class CheckpointWatch {
  // Every acknowledged value and when it was reported (in order of arrival).
  private readonly acks: Array<{ readonly value: number; readonly at: number; readonly entity: string }> = [];
  reads = 0;
  readonly errors = new Map<string, number>();

  constructor(private readonly violate: (invariant: string, detail: string) => void) {}

  get acknowledged(): number {
    return this.acks.length;
  }

  onReport(report: CheckpointReport): void {
    if (report.kind === "ckpt-ack") {
      this.acks.push({ value: Number(report.value), at: report.at, entity: report.entity });
      return;
    }
    if (report.kind === "ckpt-error") {
      const code = String(report.code);
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
      return;
    }
    if (report.kind !== "ckpt-read") return;
    this.reads += 1;
    const value = Number(report.value);
    const readAt = Number(report.readAt) / 1e6;
    setTimeout(() => setImmediate(() => {
      let highest: { value: number; at: number; entity: string } | null = null;
      for (const ack of this.acks) if (ack.at < readAt && (highest === null || ack.value > highest.value)) highest = ack;
      if (highest === null || highest.value <= value) return;
      this.violate("no acknowledged checkpoint write lost", `${report.entity} (pid ${report.pid}) read counter ${value} on becoming active, ` +
        `but ${highest.entity} had reported ${highest.value} acknowledged ${Math.round(readAt - highest.at)} ms before that read began`);
    }), DRAIN_MS);
  }
}
