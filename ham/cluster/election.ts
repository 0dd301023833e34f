import type { EtcdAdapter, KeyFact } from "./etcd.js";

// The elections of cluster groups (core/groups/cluster-groups.ts decides; this does the etcd
// side). One key per group, /hamd/<cluster>/groups/<group>/active = { node, member }, on the
// holder's lease: put by a transaction that succeeds only if the key does not exist, so at most
// one node holds it; its create_revision is the fencing token, and the holder's writes for the
// group (its resignation) are transactions conditioned on it. A watch on the groups' prefix
// tells every node who holds each key; a key that goes (resigned, or its lease expired) is free.

export interface ElectionHooks {
  // This node holds the group's key (token: its create_revision).
  elected(group: string, token: string): void;
  // Who holds it now (null: free; `yielded`: freed by its holder for a switchover).
  holder(group: string, node: string | null, yielded?: boolean): void;
  warn(fields: Record<string, unknown>, message: string): void;
  // This node's lease id now.
  lease(): string;
  after(ms: number, run: () => void): () => void;
}

const CALL_MS = 2000;
// A campaign or resignation that fails (etcd unreachable) is tried again this much later.
const RETRY_MS = 250;
const RESIGN_TRIES = 40;

export class Election {
  private stopWatch: () => void = () => undefined;
  private readonly timers = new Set<() => void>();
  private stopped = false;

  constructor(private readonly etcd: EtcdAdapter, readonly cluster: string, readonly node: string, private readonly hooks: ElectionHooks) {}

  get prefix(): string {
    return `/hamd/${this.cluster}/groups/`;
  }

  keyOf(group: string): string {
    return `${this.prefix}${group}/active`;
  }

  // Put (on the holder's lease) in the same transaction as a resignation for a switchover, just
  // before the delete: the other nodes see the key freed by a switchover, not a failure.
  yieldKeyOf(group: string): string {
    return `${this.prefix}${group}/yielded`;
  }

  private groupOf(key: string, suffix = "/active"): string | null {
    return key.startsWith(this.prefix) && key.endsWith(suffix) ? key.slice(this.prefix.length, -suffix.length) : null;
  }

  // Groups whose yield mark was just seen: the delete that follows it was a switchover.
  private readonly yieldSeen = new Set<string>();

  // Watches the groups' keys from now on (a group learns of a key already there by campaigning).
  async start(): Promise<void> {
    const { revision } = await this.etcd.list(this.prefix, CALL_MS);
    this.stopWatch = await this.etcd.watch(this.prefix, revision, (fact) => {
      const yielded = this.groupOf(fact.key, "/yielded");
      if (yielded !== null) this.yieldSeen.add(yielded);
      else this.seen(fact);
    }, (key) => {
      const group = this.groupOf(key);
      if (group === null) return;
      const yielded = this.yieldSeen.delete(group);
      this.hooks.holder(group, null, yielded);
    });
  }

  // What etcd holds now for these groups, told as if watched (a HAM that took over, or a lease
  // acknowledged again after its deadline, knows what it missed).
  async refresh(groups: readonly string[]): Promise<void> {
    const { facts } = await this.etcd.list(this.prefix, CALL_MS);
    const held = new Map(facts.map((fact) => [this.groupOf(fact.key), fact]));
    for (const group of groups) {
      const fact = held.get(group);
      if (fact === undefined) this.hooks.holder(group, null);
      else this.seen(fact);
    }
  }

  private seen(fact: KeyFact): void {
    const group = this.groupOf(fact.key);
    if (group === null) return;
    this.yieldSeen.delete(group);
    const node = nodeOf(fact);
    if (node === this.node && fact.lease === this.hooks.lease()) this.hooks.elected(group, fact.createRevision);
    else this.hooks.holder(group, node);
  }

  campaign(group: string, member: string): void {
    const value = JSON.stringify({ node: this.node, member });
    this.etcd.campaign(this.keyOf(group), value, this.hooks.lease(), CALL_MS).then((answer) => {
      if (answer.ok) this.hooks.elected(group, answer.token);
      else if (answer.holder !== null) this.seen(answer.holder);
      else this.hooks.holder(group, null);
    }, (error: unknown) => {
      this.hooks.warn({ event: "campaign-failed", group }, `${group}: campaign failed: ${String(error).split("\n")[0]}`);
      // The core campaigns again when told the key is free.
      this.later(RETRY_MS, () => this.hooks.holder(group, null));
    });
  }

  // Deletes the key if it is still the one of `token`, tried again while etcd does not answer
  // (the key is on this node's lease: it goes by itself if the lease expires meanwhile).
  // `yielded`: for a switchover to another node (the yield mark goes in the same transaction).
  resign(group: string, token: string, yielded = false, tries = RESIGN_TRIES): void {
    const mark = yielded ? { key: this.yieldKeyOf(group), value: JSON.stringify({ node: this.node, token }), lease: this.hooks.lease() } : undefined;
    this.etcd.deleteIf(this.keyOf(group), token, CALL_MS, mark).catch((error: unknown) => {
      if (tries > 1) this.later(RETRY_MS, () => this.resign(group, token, yielded, tries - 1));
      else {
        this.hooks.warn({ event: "resign-failed", group }, `${group}: could not give up its election: ${String(error).split("\n")[0]}`);
        // The core campaigns again when it can serve: a key still here and on this lease comes back as `elected`.
        this.hooks.holder(group, null);
      }
    });
  }

  private later(ms: number, run: () => void): void {
    if (this.stopped) return;
    const cancel = this.hooks.after(ms, () => {
      this.timers.delete(cancel);
      if (!this.stopped) run();
    });
    this.timers.add(cancel);
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch();
    for (const cancel of this.timers) cancel();
    this.timers.clear();
  }
}

function nodeOf(fact: KeyFact): string {
  try {
    const value = JSON.parse(fact.value) as { node?: unknown };
    return typeof value.node === "string" ? value.node : "?";
  } catch {
    // Held, by whom is unreadable: not free.
    return "?";
  }
}
