import { randomUUID } from "node:crypto";
import { HamError } from "../../lib/errors.js";
import type { ClientState } from "./clients.js";
import type { ServerContext } from "./context.js";
import type { ReplyTo } from "../core/events.js";
import type { RemoteAnswer, RemoteCall } from "../cluster/remote-calls.js";

// `ham_*_node(NAME, ...)` and `hamctl --node NAME`: a client asks its local HAM
// `{ op: "remote", a: { node, op, a, timeoutMs? } }`; this HAM answers its own name itself and
// forwards any other name to that node's HAM (cluster/remote-calls.ts), which runs the call as
// a request of a remote caller (RemoteCallers below) and answers exactly as a local call there.

export const REMOTE_TIMEOUT_MS = 5_000;
const MOST_TIMEOUT_MS = 120_000;

// Ops about the calling process (its pid, its connection): they have no meaning on another node.
const CALLER_OPS: ReadonlySet<string> = new Set(["hello", "heartbeat", "attach_self", "detach_self", "role_register", "role_ack",
  "channel_create", "channel_close", "watch", "remote"]);

type Dispatch = (ham: ServerContext, client: ClientState, op: string, args: unknown, to: ReplyTo | null) => unknown;

interface Forward {
  readonly node: string;
  readonly op: string;
  readonly a: unknown;
  readonly timeoutMs: number;
}

// The inner op of a "remote" request (frames.ts journals a forwarded read as a read).
export function forwardedOp(args: unknown): string | null {
  const op = (args as { op?: unknown } | null)?.op;
  return typeof op === "string" ? op : null;
}

function readForward(args: unknown): Forward {
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw new HamError("EINVAL", "arguments must be an object");
  const { node, op, a, timeoutMs } = args as Record<string, unknown>;
  if (typeof node !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(node)) throw new HamError("EINVAL", `not a node name: ${String(node)}`);
  if (typeof op !== "string" || op.length === 0 || op.length > 64) throw new HamError("EINVAL", "op must be a short string");
  if (CALLER_OPS.has(op)) throw new HamError("EINVAL", `${op} is about the calling process: it is made on the local HAM only, never on node ${node}`);
  const timeout = timeoutMs === undefined ? REMOTE_TIMEOUT_MS : timeoutMs;
  if (typeof timeout !== "number" || !Number.isSafeInteger(timeout) || timeout <= 0 || timeout > MOST_TIMEOUT_MS) {
    throw new HamError("EINVAL", `timeoutMs must be an integer in 1..${MOST_TIMEOUT_MS}`);
  }
  return { node, op, a, timeoutMs: timeout };
}

// The origin's side: answers its own name locally, forwards the others.
export function forwardRemote(ham: ServerContext, client: ClientState, args: unknown, to: ReplyTo | null, dispatch: Dispatch): unknown {
  const forward = readForward(args);
  if (ham.membership === null || ham.remote === null) throw new HamError("EINVAL", `not in a cluster (ham --node NAME --etcd URL): no node ${forward.node}`);
  if (forward.node === ham.membership.options.node) return dispatch(ham, client, forward.op, forward.a, to);
  // A mutation carries its client's token and id: sent again (after a takeover of either HAM),
  // the target answers it from its journal instead of making the change twice.
  const call: RemoteCall = to === null ? { op: forward.op, a: forward.a, token: null, id: 1 } : { op: forward.op, a: forward.a, token: to.token, id: to.id };
  const callId = to === null ? `q-${randomUUID()}` : `${to.token}.${to.id}`;
  return ham.remote.call(forward.node, callId, call, forward.timeoutMs);
}

// Idle remote callers are forgotten (their remembered replies with them) after this long.
const CALLER_IDLE_MS = 5 * 60_000;

interface Caller {
  readonly client: ClientState;
  readonly answers: Map<number, (message: unknown) => void>;
  lastMs: number;
}

// The target's side: each remote client session is a client of this HAM without a connection,
// named by a token made of its node and its session's token; its answers go back as replies.
export class RemoteCallers {
  private readonly callers = new Map<string, Caller>();
  private readonly reads: Caller;

  constructor(private readonly forget: (token: string) => void) {
    this.reads = this.caller(null);
  }

  private caller(token: string | null): Caller {
    const answers = new Map<number, (message: unknown) => void>();
    const send = (message: unknown) => {
      const id = (message as { i?: unknown } | null)?.i;
      const answer = typeof id === "number" ? answers.get(id) : undefined;
      if (answer === undefined) return false;
      answers.delete(id as number);
      answer(message);
      return true;
    };
    return {
      client: { connection: { id: -1, send, close: () => undefined }, pid: process.pid, token, selfEntities: new Set(), channels: new Set() },
      answers, lastMs: 0,
    };
  }

  // The client a session's answer goes to after the core answers later (a switchover waited for).
  clientOf(token: string): ClientState | undefined {
    return this.callers.get(token)?.client;
  }

  // Runs `answer` (answerFrame) for a call and resolves with what it sends back.
  serve(origin: string, call: RemoteCall, now: number, answer: (client: ClientState, id: number) => void): Promise<RemoteAnswer> {
    this.sweep(now);
    let caller = this.reads;
    let id = call.id;
    if (call.token !== null) {
      const token = `remote:${origin}:${call.token}`;
      caller = this.callers.get(token) ?? this.caller(token);
      this.callers.set(token, caller);
    } else {
      id = this.nextRead++;
    }
    caller.lastMs = now;
    const answered = new Promise<RemoteAnswer>((resolve) => {
      caller.answers.set(id, (message) => {
        const { r, e, m } = message as { r?: unknown; e?: string; m?: string };
        resolve(e === undefined ? { r } : { e, m: m ?? "" });
      });
    });
    answer(caller.client, id);
    return answered;
  }

  private nextRead = 1;

  private sweep(now: number): void {
    for (const [token, caller] of this.callers) {
      if (now - caller.lastMs < CALLER_IDLE_MS || caller.answers.size > 0) continue;
      this.callers.delete(token);
      this.forget(token);
    }
  }
}
