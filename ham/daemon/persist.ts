import type { CompactionStats, StateStore } from "../adapters/store.js";
import { ReplyMemory } from "../../lib/wire/reply-memory.js";
import { failPoint } from "../adapters/fail-point.js";

export type { ConditionValue, EntityValue, FiringValue, MetaValue } from "./records.js";

// Writes what changed into the shared state: the keys a transition changed (its change set,
// core/tx.ts), each written with its value as it is when the record is written, or deleted when
// the state has no value for it any more. One record at the end of the current turn of the
// event loop, or at once with flush() (before a reply, before a spawn). Beside the core's
// records: "r/<token>/<id>", the reply to a client's mutation (a retried request gets it again),
// written in the same record as the changes it answers; or `{ p: ... }` while the request is
// under way and its handler must carry on from what it noted (hamctl restart: which process).

// A request under way: what its handler noted, replaced by the reply.
export interface PendingReply {
  readonly p: unknown;
}

export interface JournalSource {
  // The value of a key now (undefined: removed), and every key, for a snapshot.
  valueOf(key: string): unknown;
  keys(): string[];
}

export class Journal {
  private readonly pending = new Set<string>();
  private readonly replies = new Map<string, unknown>();
  private readonly removedReplies = new Set<string>();
  private scheduled = false;
  // The replies already sent for mutations: token → request id → reply.
  // A client has a handful of requests in flight at most: the last 64 of each are kept.
  readonly sentReplies = new ReplyMemory(64);
  // The mutation being handled (test-only fail point "journal-write:<op>": the HAM dies right
  // after that request's first write, before its reply leaves).
  writingFor: string | null = null;

  constructor(
    private readonly store: StateStore,
    private readonly source: JournalSource,
    private readonly compactAtBytes: number,
    private readonly onCompacted: (stats: CompactionStats) => void,
    // Told the keys each record set or deleted.
    private readonly onCommitted: (keys: readonly string[]) => void = () => undefined,
  ) {}

  changed(keys: Iterable<string>): void {
    for (const key of keys) this.pending.add(key);
    this.schedule();
  }

  sentReply(token: string, id: number): unknown {
    return this.sentReplies.recall(token, id);
  }

  isPending(value: unknown): value is PendingReply {
    return typeof value === "object" && value !== null && Object.hasOwn(value, "p");
  }

  // `fromState`: read back at a takeover, already in the state (nothing to write).
  reply(token: string, id: number, reply: unknown, fromState = false): void {
    const dropped = this.sentReplies.remember(token, id, reply);
    if (dropped !== null) this.removedReplies.add(`r/${token}/${dropped}`);
    if (!fromState) {
      this.replies.set(`r/${token}/${id}`, reply);
      this.schedule();
    }
  }

  forgetClient(token: string): void {
    const ids = this.sentReplies.forget(token);
    for (const id of ids) this.removedReplies.add(`r/${token}/${id}`);
    if (ids.length > 0) this.schedule();
  }

  // Forgets every session but these (after a takeover: those that did not come back).
  forgetClientsBut(tokens: ReadonlySet<string | null>): void {
    for (const token of new Set([...this.sentReplies.entries()].map(([held]) => held))) if (!tokens.has(token)) this.forgetClient(token);
  }

  replyKeys(): string[] {
    return [...this.sentReplies.entries()].map(([token, id]) => `r/${token}/${id}`);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    for (const key of this.pending) {
      const value = this.source.valueOf(key);
      if (value === undefined) del.push(key);
      else set[key] = value;
    }
    for (const [key, reply] of this.replies) set[key] = reply;
    for (const key of this.removedReplies) if (!(key in set)) del.push(key);
    this.pending.clear();
    this.replies.clear();
    this.removedReplies.clear();
    const setCount = Object.keys(set).length;
    if (setCount === 0 && del.length === 0) return;
    this.store.commit(setCount > 0 ? set : undefined, del.length > 0 ? del : undefined);
    if (this.writingFor !== null) failPoint("journal-write", this.writingFor);
    this.onCommitted([...Object.keys(set), ...del]);
    if (this.store.journalBytes > Math.max(this.compactAtBytes, 2 * this.store.snapshotBytes) && !this.store.busy) {
      void this.store.compact(() => this.source.keys(), (key) => this.source.valueOf(key)).then(this.onCompacted, () => undefined);
    }
  }
}
