import { monotonicMs, RoleLeases } from "./role-lease.js";

// How a member's roles reach its callback (ham_role_register): in the HAM's order, one at a
// time, each acknowledged when the callback returns; a role the HAM sends again (after a
// takeover, or a second registration) is acknowledged again, never handed twice; a leased role
// (cluster groups) is dropped to `quiesced` when its lease passes (role-lease.ts).
//
// A leased role is handed only while its lease holds. One that reaches the member (or its turn)
// after its `until` waits for a renewal that comes after it: a HAM that just took over sends the
// roles not yet acknowledged again with the deadline it knew, and renews it once it has rejoined
// the cluster. Without one it is never handed: the cluster lab saw a starved node's member
// handed `active` after its node's deadline, beside the member another node had made active
// (the old order queued the lease's `quiesced` before the role itself). It is refused when a
// later role of the group comes first, at close(), or after WAIT_MS (the HAM has failed the
// member for not acknowledging by then).

export type HaState = "active" | "standby" | "quiescing" | "quiesced";

export interface RoleAssignment {
  readonly group: string;
  readonly entity: string;
  readonly role: HaState;
  readonly seq: number;
  // A serving role of a cluster group: CLOCK_MONOTONIC ms until which it holds (renewed by the
  // HAM). Past it without a renewal the library calls back with `quiesced` and `leaseExpired`
  // (not acknowledged to the HAM: the HAM quiesces the member itself at the same deadline).
  readonly until?: number;
  readonly leaseExpired?: boolean;
}

export interface RoleMessage {
  readonly group: string;
  readonly entity: string;
  readonly role: string;
  readonly seq: number;
  readonly until?: number;
}

export type RoleAnswer = { ok: boolean; reason: string | undefined };

const WAIT_MS = 10_000;

interface Waiter {
  readonly settle: (until: number | null) => void;
}

export class RoleDelivery {
  private chain: Promise<void> = Promise.resolve();
  // The last role of each group handed to the callback, with its answer.
  private readonly handled = new Map<string, { seq: number; answer: Promise<RoleAnswer> }>();
  private readonly leases: RoleLeases;
  // The latest renewal of each group since its last role arrived, and a role waiting for one.
  private readonly renewed = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter>();

  constructor(
    private readonly entity: string,
    private readonly onRole: (assignment: RoleAssignment) => void | Promise<void>,
    private readonly acknowledge: (group: string, seq: number, answer: RoleAnswer) => unknown,
  ) {
    this.leases = new RoleLeases(
      (group, seq) => this.own({ group, entity, role: "quiesced", seq, leaseExpired: true }),
      (group, role, seq) => this.own({ group, entity, role: role as HaState, seq }),
    );
  }

  role(message: RoleMessage): void {
    const last = this.handled.get(message.group);
    if (last !== undefined && last.seq >= message.seq) {
      if (last.seq === message.seq) void last.answer.then((answer) => this.acknowledge(message.group, message.seq, answer));
      return;
    }
    this.waiting.get(message.group)?.settle(null);
    this.renewed.delete(message.group);
    // A role without a lease (standby, quiesced) ends the group's lease at once, as it arrives.
    if (message.until === undefined) this.leases.role(message.group, message.role, message.seq, undefined);
    const answer = this.chain.then(async (): Promise<RoleAnswer> => {
      let leased = {};
      if (message.until !== undefined) {
        const until = await this.liveUntil(message.group, message.until);
        if (until === null) return { ok: false, reason: "its lease had passed when it reached the member" };
        this.leases.role(message.group, message.role, message.seq, until);
        leased = { until };
      }
      try {
        await this.onRole({ group: message.group, entity: message.entity, role: message.role as HaState, seq: message.seq, ...leased });
        return { ok: true, reason: undefined };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    });
    this.handled.set(message.group, { seq: message.seq, answer });
    this.chain = answer.then((result) => this.acknowledge(message.group, message.seq, result)).then(() => undefined);
  }

  renew(group: string, until: number): void {
    this.renewed.set(group, Math.max(until, this.renewed.get(group) ?? 0));
    if (until > monotonicMs()) this.waiting.get(group)?.settle(until);
    this.leases.renew(group, until);
  }

  close(): void {
    for (const waiter of [...this.waiting.values()]) waiter.settle(null);
    this.leases.close();
  }

  // The role's `until`, or a renewal's since it arrived, if it is still ahead; else the first
  // renewal that is (null: none came before a later role, close() or WAIT_MS).
  private liveUntil(group: string, until: number): Promise<number | null> {
    const latest = Math.max(until, this.renewed.get(group) ?? 0);
    if (latest > monotonicMs()) return Promise.resolve(latest);
    return new Promise((resolve) => {
      const timer = setTimeout(() => waiter.settle(null), WAIT_MS);
      const waiter: Waiter = {
        settle: (live) => {
          clearTimeout(timer);
          if (this.waiting.get(group) === waiter) this.waiting.delete(group);
          resolve(live);
        },
      };
      this.waiting.set(group, waiter);
    });
  }

  // Calls the callback outside the HAM's sequence (a leased role passed, or came back): not acknowledged.
  private own(assignment: RoleAssignment): void {
    this.chain = this.chain.then(async () => {
      try {
        await this.onRole(assignment);
      } catch {
        // The member's own business: nothing to tell the HAM.
      }
    });
  }
}
