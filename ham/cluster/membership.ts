import type { NodeRow } from "../../lib/wire/node-row.js";
import type { EtcdAdapter, KeyFact } from "./etcd.js";

// A node's membership: its lease (own keepalive loop, own deadline) and its node key, and what
// it knows of the other nodes from a watch on the nodes' prefix. etcd3's `lost` event comes about
// one TTL after the others saw the key deleted; the deadline here comes first: the send time of
// the last acknowledged keepalive + TTL − margin, on the monotonic clock.

export interface MembershipOptions {
  readonly cluster: string;
  readonly node: string;
  readonly ttlS: number;
  readonly marginMs: number;
  readonly version: string;
  // The machine, as its people name it (cluster-join.ts): shown, never connected to.
  readonly address: string | null;
  readonly startedMs: number;
}

export type { NodeRow };
// A row as membership knows it; what the node hosts is added from the groups (server/nodes.ts).
export type MemberRow = Omit<NodeRow, "hosts">;

export type MembershipEvent = "lease-expiring" | "lease-renewed" | "lease-regranted" | "node-joined" | "node-down" | "etcd-unreachable" | "etcd-ok";

export interface MembershipHooks {
  log(event: MembershipEvent, fields: Record<string, unknown>, message: string): void;
  // The lease id changed (granted, re-granted): it goes into the shared state.
  leaseChanged(lease: string): void;
  // Monotonic and wall clocks; timers.
  now(): number;
  wall(): number;
  every(ms: number, run: () => void): () => void;
  // One timer, re-armed at each new deadline (an idle node arms no polling timer).
  after(ms: number, run: () => void): () => void;
  // The deadline passed ("expiring"), or a keepalive was acknowledged in time again ("ok").
  leaseState?(state: "ok" | "expiring"): void;
  // A keepalive was acknowledged: the new deadline (monotonic ms), for leased roles.
  renewed?(deadline: number): void;
  // A node's key is there (listed at the join, or put since) / went (the core's node-down, and
  // remote calls waiting on it answer EHOSTDOWN).
  nodeUp?(node: string, pid: number | null): void;
  nodeDown?(node: string): void;
  // The nodes the shared state knew up (a takeover): those missing from the join's list went
  // down while no HAM watched, and are told down once.
  knownUp?(): readonly string[];
}

export class NodeHeld extends Error {
  constructor(readonly node: string, readonly pid: number | null) {
    super(`node ${node} is already held${pid === null ? "" : ` (pid ${pid})`}`);
  }
}

const CALL_MS = 2000;
// A keepalive not acknowledged this soon is sent again (to another etcd member, etcd3 picks one
// at random): when the etcd leader dies, calls in flight to a follower stall until their
// deadline, and the new leader (~1.3 s later) gives every lease a full TTL from its election.
// Sent only every TTL/3, the next keepalive came too late in 2 of 2 test runs and the lease was lost.
const RETRY_MS = 250;
const KEEPALIVE_CALL_MS = 1000;

export class Membership {
  lease = "";
  etcdOk = true;
  private lastAckSent = 0;
  private expiring = false;
  private regranting = false;
  private readonly nodes = new Map<string, { pid: number | null; address: string | null; state: "up" | "down"; sinceMs: number }>();
  private stops: Array<() => void> = [];
  private disarm: () => void = () => undefined;
  private readonly retries = new Set<() => void>();

  constructor(readonly etcd: EtcdAdapter, readonly options: MembershipOptions, private readonly hooks: MembershipHooks) {}

  get prefix(): string {
    return `/hamd/${this.options.cluster}/nodes/`;
  }

  get deadline(): number {
    return this.lastAckSent + this.options.ttlS * 1000 - this.options.marginMs;
  }

  // Joins: keeps the lease a HAM before this one held (a takeover) if etcd still has it, else grants
  // one; claims the node key; learns the other nodes. Throws NodeHeld, or etcd's error.
  async join(keptLease: string | null): Promise<void> {
    const sent = this.hooks.now();
    if (keptLease !== null && (await this.etcd.keepAlive(keptLease, CALL_MS).catch(() => 0)) > 0) {
      this.lease = keptLease;
    } else {
      this.lease = await this.etcd.grant(this.options.ttlS, CALL_MS);
    }
    this.lastAckSent = sent;
    await this.claim();
    this.hooks.leaseChanged(this.lease);
    // The watch starts right after the revision the list was read at: no join or leave between is missed.
    const { facts, revision } = await this.etcd.list(this.prefix, CALL_MS);
    for (const fact of facts) this.put(fact, false);
    const listed = new Set(facts.map((fact) => fact.key.slice(this.prefix.length)));
    for (const name of this.hooks.knownUp?.() ?? []) if (!listed.has(name)) this.down(`${this.prefix}${name}`);
    this.stops.push(await this.etcd.watch(this.prefix, revision, (fact) => this.put(fact, true), (key) => this.down(key)));
    const period = Math.max(100, Math.floor((this.options.ttlS * 1000) / 3));
    this.stops.push(this.hooks.every(period, () => this.tick()));
    this.armDeadline();
  }

  private acknowledged(sent: number): void {
    if (sent <= this.lastAckSent) return;
    this.lastAckSent = sent;
    this.armDeadline();
    if (!this.expiring && this.hooks.now() < this.deadline) this.hooks.renewed?.(this.deadline);
  }

  // Whether the deadline passed, checked now (a HAM resumed after a hang: before anything else).
  checkNow(): void {
    if (!this.expiring && this.stops.length > 0 && this.hooks.now() >= this.deadline) this.check();
  }

  private armDeadline(): void {
    this.disarm();
    this.disarm = this.hooks.after(Math.max(0, this.deadline - this.hooks.now()), () => this.check());
  }

  private async claim(): Promise<void> {
    const { node, version, address, startedMs } = this.options;
    const value = JSON.stringify({ node, pid: process.pid, version, address, startedMs });
    const answer = await this.etcd.claim(`${this.prefix}${node}`, value, this.lease, CALL_MS);
    if (!answer.ok) throw new NodeHeld(node, pidOf(answer.holder));
  }

  // One keepalive, sent now; its answer counts from its send time. Calls overlap: a stalled one
  // does not hold back the next.
  private tick(): void {
    const sent = this.hooks.now();
    const cancel = this.hooks.after(RETRY_MS, () => {
      this.retries.delete(forget);
      if (this.lastAckSent < sent && this.stops.length > 0) this.tick();
    });
    const forget = () => {
      cancel();
      this.retries.delete(forget);
    };
    this.retries.add(forget);
    this.etcd.keepAlive(this.lease, KEEPALIVE_CALL_MS).then((ttl) => {
      if (ttl > 0) forget();
      this.reachable(true);
      if (ttl > 0) {
        this.acknowledged(sent);
        if (this.expiring && this.hooks.now() < this.deadline) {
          this.expiring = false;
          this.hooks.log("lease-renewed", { lease: this.lease }, `lease ${this.lease} renewed`);
          this.hooks.leaseState?.("ok");
          this.hooks.renewed?.(this.deadline);
        }
      } else void this.regrant();
    }, () => this.reachable(false));
  }

  private check(): void {
    // A timer may fire a little early, or an ack may have come meanwhile: arm again.
    if (this.hooks.now() < this.deadline) {
      this.armDeadline();
      return;
    }
    if (!this.expiring) {
      this.expiring = true;
      this.hooks.log("lease-expiring", { lease: this.lease, overdueMs: Math.round(this.hooks.now() - this.deadline) },
        `lease ${this.lease} expiring: no keepalive acknowledged within TTL ${this.options.ttlS} s − ${this.options.marginMs} ms`);
      this.hooks.leaseState?.("expiring");
    }
  }

  // etcd says the lease is gone: a new one, and the node key claimed again on it.
  private async regrant(): Promise<void> {
    if (this.regranting) return;
    this.regranting = true;
    try {
      const sent = this.hooks.now();
      const old = this.lease;
      this.lease = await this.etcd.grant(this.options.ttlS, CALL_MS);
      this.acknowledged(sent);
      await this.claim();
      this.hooks.leaseChanged(this.lease);
      this.hooks.log("lease-regranted", { old, lease: this.lease }, `lease ${old} was gone; node ${this.options.node} claimed again on lease ${this.lease}`);
      if (this.expiring && this.hooks.now() < this.deadline) {
        this.expiring = false;
        this.hooks.leaseState?.("ok");
      }
    } catch (error) {
      this.hooks.log("etcd-unreachable", { error: String(error) }, `re-grant failed: ${String(error)}`);
    } finally {
      this.regranting = false;
    }
  }

  private reachable(ok: boolean): void {
    if (ok === this.etcdOk) return;
    this.etcdOk = ok;
    this.hooks.log(ok ? "etcd-ok" : "etcd-unreachable", {}, ok ? "etcd answers again" : "etcd does not answer");
  }

  private put(fact: KeyFact, announce: boolean): void {
    const name = fact.key.slice(this.prefix.length);
    const known = this.nodes.get(name);
    const pid = pidOf(fact);
    this.nodes.set(name, { pid, address: addressOf(fact), state: "up", sinceMs: known?.state === "up" ? known.sinceMs : this.hooks.wall() });
    if (known?.state !== "up" || known.pid !== pid) this.hooks.nodeUp?.(name, pid);
    if (announce && known?.state !== "up") this.hooks.log("node-joined", { node: name, pid }, `node ${name} joined (pid ${pid ?? "?"})`);
  }

  private down(key: string): void {
    const name = key.slice(this.prefix.length);
    const known = this.nodes.get(name);
    this.nodes.set(name, { pid: known?.pid ?? null, address: known?.address ?? null, state: "down", sinceMs: this.hooks.wall() });
    this.hooks.log("node-down", { node: name }, `node ${name} down (its lease is gone)`);
    this.hooks.nodeDown?.(name);
  }

  // What this node knows of another from the watch: "up", "down", or null (never seen since it joined).
  nodeState(name: string): "up" | "down" | null {
    return this.nodes.get(name)?.state ?? null;
  }

  rows(): MemberRow[] {
    return [...this.nodes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, known]) => {
      const self = name === this.options.node;
      return {
        name, pid: known.pid, address: known.address, self, sinceMs: known.sinceMs,
        state: self && this.expiring ? "expiring" : known.state,
        leaseLeftMs: self ? Math.round(this.deadline - this.hooks.now()) : null,
      };
    });
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.disarm();
    for (const forget of [...this.retries]) forget();
    this.etcd.close();
  }
}

function valueOf(fact: KeyFact | null): { pid?: unknown; address?: unknown } {
  if (fact === null) return {};
  try {
    const value: unknown = JSON.parse(fact.value);
    return typeof value === "object" && value !== null ? value : {};
  } catch {
    return {};
  }
}

function pidOf(fact: KeyFact | null): number | null {
  const { pid } = valueOf(fact);
  return typeof pid === "number" ? pid : null;
}

function addressOf(fact: KeyFact | null): string | null {
  const { address } = valueOf(fact);
  return typeof address === "string" ? address : null;
}
