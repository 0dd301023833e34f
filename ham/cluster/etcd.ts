import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { Etcd3, isRecoverableError, type IKeyValue } from "etcd3";
import type { ClusterOptions } from "../daemon/ham-options.js";

// The one file that knows etcd3 (and gRPC). The daemon loads it with import() only when
// `--etcd` is given: a HAM outside a cluster loads neither. Every call carries its own
// deadline (a write in flight when the etcd leader dies stalls 7 s under etcd3's retry).

export interface KeyFact {
  readonly key: string;
  readonly value: string;
  readonly lease: string;
  // The key's create_revision: a cluster group's fencing token (election.ts).
  readonly createRevision: string;
}

// One comparison of a transaction: the key's create_revision or mod_revision equals `equals`
// (a missing key's revisions are 0).
export interface TxnCompare {
  readonly key: string;
  readonly target: "create" | "mod";
  readonly equals: string;
}

// One operation of a transaction: a put of raw bytes (on a lease, or none: "0"), a delete of a
// key or of every key under a prefix, or a read of one key.
export type TxnOp =
  | { readonly kind: "put"; readonly key: string; readonly value: Buffer; readonly lease: string }
  | { readonly kind: "delete"; readonly key: string; readonly prefix: boolean }
  | { readonly kind: "get"; readonly key: string };

export interface RawKey {
  readonly value: Buffer;
  readonly createRevision: string;
  readonly modRevision: string;
}

export interface TxnAnswer {
  readonly succeeded: boolean;
  // The revision the transaction was made (or read) at.
  readonly revision: string;
  // One per op of the branch that ran: a get's key (null: absent); null for the others.
  readonly results: ReadonlyArray<RawKey | null>;
}

export interface EtcdAdapter {
  grant(ttlS: number, deadlineMs: number): Promise<string>;
  // One keepalive: the lease's TTL left as etcd answers (≤ 0: the lease is gone).
  keepAlive(lease: string, deadlineMs: number): Promise<number>;
  // Puts key on lease if the key does not exist or already sits on that lease; else the holder.
  claim(key: string, value: string, lease: string, deadlineMs: number): Promise<{ ok: true } | { ok: false; holder: KeyFact | null }>;
  // Puts key on lease only if it does not exist (create_revision == 0): then its create_revision;
  // else the key as it is (null: gone meanwhile).
  campaign(key: string, value: string, lease: string, deadlineMs: number): Promise<{ ok: true; token: string } | { ok: false; holder: KeyFact | null }>;
  // Deletes key only if it is still the one created at `token` (a fenced write); false: it was not.
  // `mark`: a key put on `mark.lease` in the same transaction, just before the delete.
  deleteIf(key: string, token: string, deadlineMs: number, mark?: { key: string; value: string; lease: string }): Promise<boolean>;
  // The keys under prefix, and the revision they were read at (a watch starts after it).
  list(prefix: string, deadlineMs: number): Promise<{ facts: KeyFact[]; revision: string }>;
  watch(prefix: string, fromRevision: string, onPut: (fact: KeyFact) => void, onDelete: (key: string) => void): Promise<() => void>;
  // A plain put on a lease (remote calls and their replies: each key has one writer).
  put(key: string, value: string, lease: string, deadlineMs: number): Promise<void>;
  // Deletes a key, or every key under a prefix (a key that is gone already is no error).
  remove(key: string, deadlineMs: number, prefix?: boolean): Promise<void>;
  // One transaction (linearizable; a read-only one as well): `success` if every comparison
  // holds, else `failure` (checkpoints across nodes, cluster/checkpoints.ts).
  txn(compare: readonly TxnCompare[], success: readonly TxnOp[], failure: readonly TxnOp[], deadlineMs: number): Promise<TxnAnswer>;
  close(): void;
}

// etcd3 opens a host's circuit breaker after 3 recoverable failures in a row and then refuses
// every call to it at once; its default keeps it open 5 s, longer than an etcd quorum needs to
// come back. Ours re-opens after 1 s, and a call refused by open breakers (it never left) is
// tried again until its deadline: a request after the quorum's return is answered, not refused.
const at = (ms: number) => ({ deadline: new Date(Date.now() + ms) });
const BREAKER_OPEN_MS = 1000;
const RETRY_REFUSED_MS = 100;
const refused = (error: unknown) => typeof error === "object" && error !== null && "isBrokenCircuitError" in error;

async function within<T>(ms: number, call: (options: { deadline: Date }) => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await call({ deadline: new Date(deadline) });
    } catch (error) {
      if (!refused(error) || Date.now() + RETRY_REFUSED_MS >= deadline) throw error;
      await sleep(RETRY_REFUSED_MS);
    }
  }
}
const fact = (kv: IKeyValue): KeyFact => ({ key: kv.key.toString(), value: kv.value.toString(), lease: String(kv.lease), createRevision: String(kv.create_revision) });

// The end of a prefix's range: the prefix with its last byte + 1.
function rangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

export function connectEtcd(options: ClusterOptions): EtcdAdapter {
  const file = (path: string | null) => (path === null ? undefined : readFileSync(path));
  const ca = file(options.ca);
  const client = new Etcd3({
    hosts: [...options.etcd],
    ...(ca === undefined ? {} : { credentials: { rootCertificate: ca, ...(options.key === null ? {} : { privateKey: readFileSync(options.key) }), ...(options.cert === null ? {} : { certChain: readFileSync(options.cert) }) } }),
    ...(options.user === null ? {} : { auth: { username: options.user, password: options.password ?? "", callOptions: at(3000) } }),
    // etcd3 sets no gRPC keepalive: without pings a half-open link is seen by nothing (etcd3#110).
    // 5 s: etcd refuses pings more often than its --grpc-keepalive-min-time (5 s) with GOAWAY.
    grpcOptions: { "grpc.keepalive_time_ms": 5000, "grpc.keepalive_timeout_ms": 2000 },
    faultHandling: { host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: BREAKER_OPEN_MS, breaker: new ConsecutiveBreaker(3) }) },
  });
  return {
    async grant(ttlS, deadlineMs) {
      return String((await within(deadlineMs, (options) => client.leaseClient.leaseGrant({ TTL: ttlS }, options))).ID);
    },
    async keepAlive(lease, deadlineMs) {
      const stream = await within(deadlineMs, (options) => client.leaseClient.leaseKeepAlive(options));
      try {
        return await new Promise<number>((resolve, reject) => {
          stream.on("data", (response: { TTL: string }) => resolve(Number(response.TTL)));
          stream.on("error", reject);
          stream.on("end", () => reject(new Error("keepalive stream ended")));
          stream.write({ ID: lease });
        });
      } finally {
        stream.end();
      }
    },
    async claim(key, value, lease, deadlineMs) {
      const k = Buffer.from(key);
      const put = { request_put: { key: k, value: Buffer.from(value), lease } };
      // Free (never created), or ours already (a takeover re-claims on the same lease).
      for (const compare of [{ key: k, target: "Create" as const, result: "Equal" as const, create_revision: 0 },
        { key: k, target: "Lease" as const, result: "Equal" as const, lease }]) {
        const answer = await within(deadlineMs, (options) => client.kv.txn({ compare: [compare], success: [put], failure: [{ request_range: { key: k } }] }, options));
        if (answer.succeeded) return { ok: true };
        const held = answer.responses[0]?.response_range?.kvs[0];
        if (held === undefined) continue;
        if (String(held.lease) !== lease) return { ok: false, holder: fact(held) };
      }
      return { ok: false, holder: null };
    },
    async campaign(key, value, lease, deadlineMs) {
      const k = Buffer.from(key);
      const answer = await within(deadlineMs, (options) => client.kv.txn({
        compare: [{ key: k, target: "Create", result: "Equal", create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(value), lease } }],
        failure: [{ request_range: { key: k } }],
      }, options));
      // The put's revision is the key's create_revision.
      if (answer.succeeded) return { ok: true, token: String(answer.header.revision) };
      const held = answer.responses[0]?.response_range?.kvs[0];
      return { ok: false, holder: held === undefined ? null : fact(held) };
    },
    async deleteIf(key, token, deadlineMs, mark) {
      const k = Buffer.from(key);
      // The put first: a watch sees a transaction's events in the order of its operations.
      const put = mark === undefined ? [] : [{ request_put: { key: Buffer.from(mark.key), value: Buffer.from(mark.value), lease: mark.lease } }];
      const answer = await within(deadlineMs, (options) => client.kv.txn({
        compare: [{ key: k, target: "Create", result: "Equal", create_revision: token }],
        success: [...put, { request_delete_range: { key: k } }], failure: [],
      }, options));
      return answer.succeeded;
    },
    async list(prefix, deadlineMs) {
      const answer = await within(deadlineMs, (options) => client.kv.range({ key: Buffer.from(prefix), range_end: rangeEnd(prefix) }, options));
      return { facts: answer.kvs.map(fact), revision: answer.header.revision };
    },
    async watch(prefix, fromRevision, onPut, onDelete) {
      const watcher = await client.watch().prefix(prefix).startRevision(String(BigInt(fromRevision) + 1n)).create();
      watcher.on("put", (kv) => onPut(fact(kv)));
      watcher.on("delete", (kv) => onDelete(kv.key.toString()));
      watcher.on("error", () => undefined);
      return () => void watcher.cancel().catch(() => undefined);
    },
    async put(key, value, lease, deadlineMs) {
      await within(deadlineMs, (options) => client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease }, options));
    },
    async remove(key, deadlineMs, prefix = false) {
      const k = Buffer.from(key);
      await within(deadlineMs, (options) => client.kv.deleteRange({ key: k, ...(prefix ? { range_end: rangeEnd(key) } : {}) }, options));
    },
    async txn(compare, success, failure, deadlineMs) {
      const request = (op: TxnOp) => {
        const key = Buffer.from(op.key);
        if (op.kind === "put") return { request_put: { key, value: op.value, lease: op.lease } };
        if (op.kind === "get") return { request_range: { key } };
        return { request_delete_range: { key, ...(op.prefix ? { range_end: rangeEnd(op.key) } : {}) } };
      };
      const answer = await within(deadlineMs, (options) => client.kv.txn({
        compare: compare.map((c) => ({ key: Buffer.from(c.key), result: "Equal" as const, ...(c.target === "create" ? { target: "Create" as const, create_revision: c.equals } : { target: "Mod" as const, mod_revision: c.equals }) })),
        success: success.map(request), failure: failure.map(request),
      }, options));
      const ran = answer.succeeded ? success : failure;
      const results = ran.map((op, index): RawKey | null => {
        if (op.kind !== "get") return null;
        const kv = answer.responses[index]?.response_range?.kvs[0];
        return kv === undefined ? null : { value: kv.value, createRevision: String(kv.create_revision), modRevision: String(kv.mod_revision) };
      });
      return { succeeded: answer.succeeded, revision: String(answer.header.revision), results };
    },
    close() {
      client.close();
    },
  };
}
