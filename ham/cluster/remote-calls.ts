import { HamError, isHamErrorCode } from "../../lib/errors.js";
import type { EtcdAdapter, KeyFact } from "./etcd.js";

// Remote calls, HAM to HAM, through etcd under its auth (no port of our own, no certificates):
//
//   origin                         etcd /hamd/<cluster>/                      target
//   put calls/<target>/<origin>/<callId>   (origin's lease)  ── watch ──►  serves it as a request
//   answers its client  ◄── watch ──  replies/<origin>/<callId> (target's lease)  ◄── put, then
//   deletes the reply                                                         deletes the call
//
// A call key sits on the origin's lease: a caller that dies takes its calls with it. A target
// taken over lists its calls when it joins again and serves them; the exactly-once machinery
// (the reply journaled under the caller's token and id) answers a call it already made with
// its first answer, so a change is made once whichever side is taken over.

export interface RemoteCall {
  readonly op: string;
  readonly a: unknown;
  // The origin's client session and its request id (a mutation); null: a read, never journaled.
  readonly token: string | null;
  readonly id: number;
}

export type RemoteAnswer = { readonly r: unknown } | { readonly e: string; readonly m: string };

export interface RemoteHooks {
  // This node's lease now (calls and replies are put on it).
  lease(): string;
  nodeState(node: string): "up" | "down" | null;
  // Runs a call from another node as a request of a remote caller on this HAM.
  serve(origin: string, call: RemoteCall): Promise<RemoteAnswer>;
  warn(message: string): void;
}

const CALL_MS = 2000;

interface Waiting {
  readonly target: string;
  readonly key: string;
  readonly done: Promise<unknown>;
  settle(error: HamError | null, value?: unknown): void;
}

export class RemoteCalls {
  private readonly waiting = new Map<string, Waiting>();
  // Call keys being served now: a call put again meanwhile (a resend) is not run beside itself.
  private readonly serving = new Set<string>();
  private stops: Array<() => void> = [];

  constructor(private readonly etcd: EtcdAdapter, private readonly cluster: string, readonly self: string, private readonly hooks: RemoteHooks) {}

  private callsTo(target: string): string {
    return `/hamd/${this.cluster}/calls/${target}/`;
  }

  private repliesTo(origin: string): string {
    return `/hamd/${this.cluster}/replies/${origin}/`;
  }

  // Lists what waits (calls made while this HAM was being taken over; replies nobody waits
  // for any more), then watches from the revision after each list.
  async start(): Promise<void> {
    const calls = await this.etcd.list(this.callsTo(this.self), CALL_MS);
    this.stops.push(await this.etcd.watch(this.callsTo(this.self), calls.revision, (fact) => this.serve(fact), () => undefined));
    for (const fact of calls.facts) this.serve(fact);
    const replies = await this.etcd.list(this.repliesTo(this.self), CALL_MS);
    this.stops.push(await this.etcd.watch(this.repliesTo(this.self), replies.revision, (fact) => this.answered(fact), () => undefined));
    for (const fact of replies.facts) this.answered(fact);
  }

  // A call to another node: its answer, or EHOSTDOWN (down or unknown: at once, from the
  // membership's view; or it went down while the call waited), or ETIMEDOUT.
  call(target: string, callId: string, call: RemoteCall, timeoutMs: number): Promise<unknown> {
    const state = this.hooks.nodeState(target);
    if (state !== "up") {
      return Promise.reject(new HamError("EHOSTDOWN", state === null ? `no node ${target} in cluster ${this.cluster} (none has joined under that name)` : `node ${target} is down`));
    }
    // The same request sent again while the first waits (a client that reconnected): one call.
    const already = this.waiting.get(callId);
    if (already !== undefined) return already.done;
    const key = `${this.callsTo(target)}${this.self}/${callId}`;
    let settle: Waiting["settle"] = () => undefined;
    const done = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(new HamError("ETIMEDOUT", `node ${target} did not answer ${call.op} within ${timeoutMs} ms`));
        void this.etcd.remove(key, CALL_MS).catch(() => undefined);
      }, timeoutMs);
      settle = (error, value) => {
        if (this.waiting.get(callId)?.done !== done) return;
        clearTimeout(timer);
        this.waiting.delete(callId);
        if (error === null) resolve(value);
        else reject(error);
      };
    });
    this.waiting.set(callId, { target, key, done, settle });
    this.etcd.put(key, JSON.stringify(call), this.hooks.lease(), CALL_MS).catch((error: unknown) => {
      settle(new HamError("EIO", `cannot reach etcd to call node ${target}: ${String(error).split("\n")[0]}`));
    });
    return done;
  }

  // Another node went down: its calls will not be answered.
  nodeDown(node: string): void {
    for (const waiting of [...this.waiting.values()]) {
      if (waiting.target !== node) continue;
      waiting.settle(new HamError("EHOSTDOWN", `node ${node} went down before it answered`));
      void this.etcd.remove(waiting.key, CALL_MS).catch(() => undefined);
    }
  }

  private answered(fact: KeyFact): void {
    const callId = fact.key.slice(this.repliesTo(this.self).length);
    void this.etcd.remove(fact.key, CALL_MS).catch(() => undefined);
    const waiting = this.waiting.get(callId);
    if (waiting === undefined) return;
    const answer = parse(fact.value) as Partial<{ r: unknown; e: unknown; m: unknown }> | null;
    if (answer === null) waiting.settle(new HamError("EIO", `node ${waiting.target} sent an answer that cannot be read`));
    else if (answer.e === undefined) waiting.settle(null, answer.r);
    else waiting.settle(new HamError(isHamErrorCode(answer.e) ? answer.e : "EIO", String(answer.m ?? "")));
  }

  private serve(fact: KeyFact): void {
    if (this.serving.has(fact.key)) return;
    const [origin = "", callId = ""] = fact.key.slice(this.callsTo(this.self).length).split("/");
    if (origin === "" || callId === "") return;
    this.serving.add(fact.key);
    const call = remoteCall(parse(fact.value));
    const answer = call === null ? Promise.resolve<RemoteAnswer>({ e: "EINVAL", m: "a remote call that cannot be read" }) : this.hooks.serve(origin, call);
    answer
      .then(async (reply) => {
        await this.etcd.put(`${this.repliesTo(origin)}${callId}`, JSON.stringify(reply), this.hooks.lease(), CALL_MS);
        await this.etcd.remove(fact.key, CALL_MS);
      })
      .catch((error: unknown) => this.hooks.warn(`remote call ${callId} from ${origin}: ${String(error).split("\n")[0]}`))
      .finally(() => this.serving.delete(fact.key));
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
    for (const waiting of [...this.waiting.values()]) waiting.settle(new HamError("EIO", "the HAM is stopping"));
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function remoteCall(value: unknown): RemoteCall | null {
  if (typeof value !== "object" || value === null) return null;
  const { op, a, token, id } = value as Record<string, unknown>;
  if (typeof op !== "string" || typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) return null;
  if (token !== null && (typeof token !== "string" || token.includes("/"))) return null;
  return { op, a, token, id };
}
