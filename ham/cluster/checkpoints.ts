import { HamError } from "../../lib/errors.js";
import { failPoint } from "../adapters/fail-point.js";
import type { CheckpointLimits } from "../core/checkpoints/checkpoint-data.js";
import type { EtcdAdapter, RawKey, TxnCompare, TxnOp } from "./etcd.js";

// Checkpoints across nodes (issue 17): a cross-node group's checkpoints live in etcd, so the
// standby's node reads them after the active's node is gone. This is the etcd side (keys and
// transactions); server/cluster-checkpoints.ts checks the requests and their limits.
//
//  /hamd/<cluster>/ckpt/<group>/<name>              header JSON: limits, each section's size
//  /hamd/<cluster>/ckpt/<group>/<name>/s/<section>  the section's raw bytes
//  /hamd/<cluster>/ckpt-replies/<node>/<token>.<id> a mutation's answer (exactly once), on a
//                                                   short lease of its own
//
// The header's create_revision is the checkpoint's id. Every mutation is one transaction whose
// comparisons are: the group's election key still created at this node's token (fencing), the
// header unchanged since it was read (its sizes stay true), and no answer to the same request yet.
// Replies live under ckpt-replies/, not replies/: remote-calls.ts deletes what appears there.

export interface SectionFact {
  readonly size: number;
  readonly writtenMs: number;
}

export interface Header {
  readonly limits: CheckpointLimits;
  readonly createdMs: number;
  readonly bytes: number;
  readonly sections: Readonly<Record<string, SectionFact>>;
}

export interface ReadHeader {
  readonly header: Header;
  readonly id: number;
  readonly modRevision: string;
}

// A mutation's change, worked out from the header as read: the header to put, and the ops on
// the sections (their bytes).
export interface Change {
  readonly header: Header | null;
  readonly ops: readonly TxnOp[];
}

// Who asks: the node's fencing token for the group (null: it does not hold the election), and
// the client request (token and id) the answer is kept for.
export interface Fence {
  readonly token: string | null;
  readonly request: { readonly token: string; readonly id: number } | null;
}

// One request's whole time in etcd: answered (ETIMEDOUT at worst) within it, before a remote
// call's 5 s or a local request's 10 s give up.
export const CKPT_ETCD_MS = 3_000;
// Answers of mutations stay this long (a takeover of the HAM is far shorter); one lease is used
// for REPLY_LEASE_S / 2, so each answer lives at least half of it.
const REPLY_LEASE_S = 120;
// Header races (two nodes' HAMs: an open beside a write) before giving up with EBUSY.
const RETRIES = 5;

const parseHeader = (raw: RawKey): ReadHeader => ({ header: JSON.parse(raw.value.toString("utf8")) as Header, id: Number(raw.createRevision), modRevision: raw.modRevision });

export class ClusterCheckpoints {
  private replyLease: { id: string; grantedMs: number } | null = null;
  // The header of each checkpoint as this HAM last wrote it (mutate's first plan), by header key.
  private readonly written = new Map<string, ReadHeader>();

  constructor(private readonly etcd: EtcdAdapter, private readonly cluster: string, private readonly node: string, private readonly now: () => number) {}

  headerKey(group: string, name: string): string {
    return `/hamd/${this.cluster}/ckpt/${group}/${name}`;
  }

  sectionKey(group: string, name: string, section: string): string {
    return `${this.headerKey(group, name)}/s/${section}`;
  }

  private electionKey(group: string): string {
    return `/hamd/${this.cluster}/groups/${group}/active`;
  }

  private replyKey(request: { token: string; id: number }): string {
    return `/hamd/${this.cluster}/ckpt-replies/${this.node}/${request.token}.${request.id}`;
  }

  // One transaction within what is left of the request's time; etcd that does not answer (no
  // quorum, unreachable) is ETIMEDOUT.
  private async txn(until: number, compare: readonly TxnCompare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): ReturnType<EtcdAdapter["txn"]> {
    const left = until - this.now();
    if (left <= 0) throw new HamError("ETIMEDOUT", `etcd did not answer within ${CKPT_ETCD_MS} ms`);
    try {
      return await this.etcd.txn(compare, success, failure, left);
    } catch (error) {
      throw new HamError("ETIMEDOUT", `etcd did not answer within ${CKPT_ETCD_MS} ms (${String(error).split("\n")[0]})`);
    }
  }

  // The header (null: no such checkpoint), read linearizably.
  async header(group: string, name: string): Promise<ReadHeader | null> {
    const until = this.now() + CKPT_ETCD_MS;
    const raw = (await this.txn(until, [], [{ kind: "get", key: this.headerKey(group, name) }])).results[0];
    return raw === undefined || raw === null ? null : parseHeader(raw);
  }

  // The header and one section's bytes, read at one revision.
  async section(group: string, name: string, section: string): Promise<{ header: ReadHeader | null; bytes: Buffer | null }> {
    const until = this.now() + CKPT_ETCD_MS;
    const answer = await this.txn(until, [], [{ kind: "get", key: this.headerKey(group, name) }, { kind: "get", key: this.sectionKey(group, name, section) }]);
    const [header, bytes] = answer.results;
    return { header: header === undefined || header === null ? null : parseHeader(header), bytes: bytes?.value ?? null };
  }

  // Makes the header if the checkpoint does not exist (any node of the group may); else the one
  // that exists. `make`: the new header.
  async open(group: string, name: string, make: () => Header): Promise<{ read: ReadHeader; created: boolean }> {
    const until = this.now() + CKPT_ETCD_MS;
    const key = this.headerKey(group, name);
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const header = make();
      const answer = await this.txn(until, [{ key, target: "create", equals: "0" }], [{ kind: "put", key, value: Buffer.from(JSON.stringify(header)), lease: "0" }], [{ kind: "get", key }]);
      if (answer.succeeded) return { read: { header, id: Number(answer.revision), modRevision: answer.revision }, created: true };
      const raw = answer.results[0];
      if (raw !== undefined && raw !== null) return { read: parseHeader(raw), created: false };
    }
    throw new HamError("EBUSY", `checkpoint ${name} of group ${group} changed under each of ${RETRIES} attempts`);
  }

  // A fenced mutation: `plan` works the change out from the header as read (or throws its
  // HamError), and the transaction makes it only if this node still holds the group's election
  // and nobody changed the header meanwhile. A request answered already (its answer key exists)
  // gets that answer. The header this HAM wrote last is planned on at once (one round trip, the
  // common case of an active writing on); a failed comparison reads all three in its failure
  // branch, and a plan that fails on the remembered header is made again on a fresh read.
  async mutate(group: string, name: string, fence: Fence, op: string, plan: (read: ReadHeader | null) => Change): Promise<number> {
    const until = this.now() + CKPT_ETCD_MS;
    const key = this.headerKey(group, name);
    const election = this.electionKey(group);
    const reply = fence.request === null ? null : this.replyKey(fence.request);
    const reads: TxnOp[] = [{ kind: "get", key }, { kind: "get", key: election }, ...(reply === null ? [] : [{ kind: "get" as const, key: reply }])];
    let remembered = fence.token === null ? undefined : this.written.get(key);
    let fresh: ReadonlyArray<RawKey | null> | null = null;
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      let read: ReadHeader | null;
      if (remembered !== undefined) {
        read = remembered;
      } else {
        fresh ??= (await this.txn(until, [], reads)).results;
        const [rawHeader, holder, answered] = fresh;
        if (answered !== undefined && answered !== null) return answerOf(answered);
        if (fence.token === null || holder === undefined || holder === null || holder.createRevision !== fence.token) {
          throw new HamError("EPERM", `node ${this.node} does not hold group ${group}'s election: only the active node writes its checkpoints`);
        }
        read = rawHeader === undefined || rawHeader === null ? null : parseHeader(rawHeader);
      }
      let change: Change;
      try {
        change = plan(read);
      } catch (error) {
        if (remembered === undefined) throw error;
        remembered = undefined;
        continue;
      }
      const token = fence.token ?? "";
      const compare: TxnCompare[] = [{ key: election, target: "create", equals: token }, { key, target: "mod", equals: read?.modRevision ?? "0" }];
      const ops: TxnOp[] = [...change.ops];
      if (change.header !== null) ops.push({ kind: "put", key, value: Buffer.from(JSON.stringify(change.header)), lease: "0" });
      if (reply !== null) {
        compare.push({ key: reply, target: "create", equals: "0" });
        ops.push({ kind: "put", key: reply, value: Buffer.from(JSON.stringify({ r: 0 })), lease: await this.leaseForReplies(until) });
      }
      const answer = await this.txn(until, compare, ops, reads);
      if (answer.succeeded) {
        if (change.header === null || read === null) this.written.delete(key);
        else this.written.set(key, { header: change.header, id: read.id, modRevision: answer.revision });
        // Test-only: the HAM dies with the change made and its answer kept, not yet sent.
        failPoint("after-ckpt-txn", op);
        return 0;
      }
      this.written.delete(key);
      remembered = undefined;
      fresh = answer.results;
    }
    throw new HamError("EBUSY", `checkpoint ${name} of group ${group} changed under each of ${RETRIES} attempts`);
  }

  // A lease for answers, granted again once half its TTL is gone (not kept alive: answers expire).
  private async leaseForReplies(until: number): Promise<string> {
    const now = this.now();
    if (this.replyLease !== null && now - this.replyLease.grantedMs < (REPLY_LEASE_S * 1000) / 2) return this.replyLease.id;
    const left = until - now;
    try {
      this.replyLease = { id: await this.etcd.grant(REPLY_LEASE_S, Math.max(1, left)), grantedMs: now };
    } catch (error) {
      throw new HamError("ETIMEDOUT", `etcd did not answer within ${CKPT_ETCD_MS} ms (${String(error).split("\n")[0]})`);
    }
    return this.replyLease.id;
  }
}

function answerOf(raw: RawKey): number {
  const answer = JSON.parse(raw.value.toString("utf8")) as { r?: unknown };
  return typeof answer.r === "number" ? answer.r : 0;
}
