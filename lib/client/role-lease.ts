// Leased roles (cluster groups, issue 17): a serving role (active, quiescing) of a group across
// nodes comes with `until`, the HAM's lease deadline on CLOCK_MONOTONIC (ms), which the HAM
// renews after each keepalive etcd acknowledges. When `until` passes without a renewal, the
// member stops serving on its own (its callback gets `quiesced`): a node whose HAM and Guardian
// are both frozen, or cut off from etcd, leaves no active member beside the one another node
// makes active once the lease is gone. A renewal that comes after the drop (the lease held after
// all: it raced the timer) gives the role back.

// CLOCK_MONOTONIC in ms, the clock the HAM's `until` is on (process.hrtime, not performance.now,
// whose origin is each process's own start).
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

interface Lease {
  readonly role: string;
  readonly seq: number;
  until: number;
  dropped: boolean;
  timer: NodeJS.Timeout | null;
}

export class RoleLeases {
  private readonly leases = new Map<string, Lease>();

  // `drop`: the role's lease passed; `restore`: renewed after a drop.
  constructor(private readonly drop: (group: string, seq: number) => void, private readonly restore: (group: string, role: string, seq: number) => void) {}

  // A role handed to the callback: leased if it carries `until`, else any lease of the group ends.
  role(group: string, role: string, seq: number, until: number | undefined): void {
    this.end(group);
    if (until === undefined) return;
    const lease: Lease = { role, seq, until, dropped: false, timer: null };
    this.leases.set(group, lease);
    this.arm(group, lease);
  }

  renew(group: string, until: number): void {
    const lease = this.leases.get(group);
    if (lease === undefined || until <= lease.until) return;
    lease.until = until;
    if (lease.dropped && until > monotonicMs()) {
      lease.dropped = false;
      this.restore(group, lease.role, lease.seq);
    }
    this.arm(group, lease);
  }

  private arm(group: string, lease: Lease): void {
    if (lease.timer !== null) clearTimeout(lease.timer);
    lease.timer = null;
    if (lease.dropped) return;
    const left = lease.until - monotonicMs();
    if (left <= 0) {
      lease.dropped = true;
      this.drop(group, lease.seq);
      return;
    }
    // A timer may fire early by a fraction of a ms: armed again until the moment has passed.
    lease.timer = setTimeout(() => this.arm(group, lease), Math.ceil(left));
  }

  private end(group: string): void {
    const lease = this.leases.get(group);
    if (lease?.timer !== null && lease?.timer !== undefined) clearTimeout(lease.timer);
    this.leases.delete(group);
  }

  close(): void {
    for (const group of [...this.leases.keys()]) this.end(group);
  }
}
