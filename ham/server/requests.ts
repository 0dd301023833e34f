import { HamError } from "../../lib/errors.js";
import { resolveTreePath } from "./browse.js";
import { PROTOCOL_VERSION } from "../../lib/wire/protocol.js";
import type { ClientState } from "./clients.js";
import type { ServerContext } from "./context.js";
import { Args } from "../core/specs.js";
import { applyText } from "./config-apply.js";
import { isCoreRequest } from "../core/requests.js";
import { replyValue } from "../daemon/interpreter.js";
import { psRows } from "./ps.js";
import { nodeRows } from "./nodes.js";
import { terminate } from "../adapters/processes.js";
import { DEFAULTS } from "../daemon/defaults.js";
import type { ReplyTo } from "../core/events.js";
import { forwardRemote } from "./remote.js";
import { groupCheckpointRequest, isGroupCheckpointRequest } from "./cluster-checkpoints.js";

// `to`: the client request a mutation answers (null: none), for a handler that records its progress.
type Handler = (ham: ServerContext, client: ClientState, args: Args, to: ReplyTo | null) => unknown;

// A request the core answers later, to its session (a switchover that is waited for).
export const ANSWERED_LATER = Symbol("answered later");

// The operations the server answers itself; every other one is a core request (core/requests.ts).
const handlers: Readonly<Record<string, Handler>> = {
  hello: (ham, client, args) => {
    const pid = args.int("pid");
    if (pid <= 0) throw new HamError("EINVAL", "hello pid must be > 0");
    client.pid = pid;
    // A client names its session with a token, so a request it retries after a takeover is
    // recognised (and its self-attached entities and channels come back to it).
    client.token = args.optionalString("token");
    ham.rebind(client);
    return { version: PROTOCOL_VERSION, hamPid: process.pid };
  },
  heartbeat: (ham, client) => ham.heartbeat(client),
  channel_create: (ham, client) => {
    if (client.pid <= 0) throw new HamError("EINVAL", "no hello received: unknown caller pid");
    return { pid: client.pid, chid: ham.channels.create(client) };
  },
  channel_close: (ham, client, args) => {
    if (!ham.channels.close(client, args.int("chid"))) throw new HamError("ENOENT", "no such channel");
    return 0;
  },
  stop: (ham) => {
    setImmediate(() => void ham.stop("ham_stop", true));
    return 0;
  },
  status: (ham) => ham.status(),
  nodes: (ham) => nodeRows(ham.membership, ham.state.groups.values()),
  ps: (ham) => psRows(ham.state, ham.clock.wall(), ham.clock.mono()),
  watch: (_ham, client) => {
    client.watching = true;
    return 0;
  },
  ls: (ham, _client, args) => {
    const node = resolveTreePath(ham.view(), args.optionalString("path") ?? "/");
    return node.type === "dir" ? node : { type: "file", size: Buffer.byteLength(node.content) };
  },
  cat: (ham, _client, args) => {
    const node = resolveTreePath(ham.view(), args.string("path"));
    if (node.type === "dir") throw new HamError("EINVAL", `${args.string("path")} is a directory`);
    return node.content;
  },
  restart: (ham, _client, args, to) => restartEntity(ham, args.name("ename", "entity"), to),
  apply: (ham, _client, args, to) => applyText(ham, args.string("text"), args.string("source"), to),
};

export function dispatch(ham: ServerContext, client: ClientState, op: string, rawArgs: unknown, to: ReplyTo | null = null): unknown {
  const handler = Object.hasOwn(handlers, op) ? handlers[op] : undefined;
  if (handler === undefined && !isCoreRequest(op) && op !== "remote") throw new HamError("EINVAL", `unknown operation ${op}`);
  if (op !== "hello" && client.pid <= 0) throw new HamError("EINVAL", "the first request must be hello");
  if (op === "remote") return forwardRemote(ham, client, rawArgs, to, dispatch);
  // A checkpoint of a group across nodes: its bytes are in etcd, not in the core.
  if (isGroupCheckpointRequest(op, rawArgs)) return groupCheckpointRequest(ham, op, rawArgs, to);
  const holder = op === "group_switchover" ? switchoverHolder(ham, rawArgs) : null;
  if (holder !== null) return forwardRemote(ham, client, { node: holder, op, a: rawArgs, timeoutMs: SWITCHOVER_FORWARD_MS }, to, dispatch);
  if (handler !== undefined) return handler(ham, client, new Args(rawArgs), to);
  const reply = ham.coreRequest(client, op, rawArgs, to);
  return reply === null ? ANSWERED_LATER : replyValue(reply);
}

// A switchover waited for answers once the other node's member took over (seconds at most).
const SWITCHOVER_FORWARD_MS = 30_000;

// A switchover of a cluster group asked on a node that does not hold its election goes to the
// node that does (core/groups/cross-switchover.ts; the answer is that node's, made once even
// across a takeover of either HAM: server/remote.ts). null: this node answers it.
function switchoverHolder(ham: ServerContext, args: unknown): string | null {
  const gname = (args as { gname?: unknown } | null)?.gname;
  const group = typeof gname === "string" ? ham.state.groups.get(gname) : undefined;
  const self = ham.membership?.options.node;
  const holder = group?.cluster?.holder ?? null;
  if (group?.cluster === undefined || group.cluster.token !== null || group.switchover !== null || self === undefined || ham.remote === null) return null;
  // "?": held, by whom is unreadable (election.ts): the core says so.
  return holder !== null && holder !== self && holder !== "?" ? holder : null;
}

interface RestartTarget {
  readonly pid: number;
  readonly startTime: number | null;
}

function isRestartTarget(value: unknown): value is RestartTarget {
  const target = value as Partial<RestartTarget> | null;
  return typeof target === "object" && target !== null && typeof target.pid === "number" && (typeof target.startTime === "number" || target.startTime === null);
}

// hamctl restart: the process is ended (SIGTERM, then SIGKILL), and its restart action runs.
// Which process is noted (pending) before the first signal: sent again after a takeover, the
// request ends that same process (gone already: nothing to do), never its replacement.
async function restartEntity(ham: ServerContext, name: string, to: ReplyTo | null): Promise<number> {
  const noted = to === null ? undefined : ham.journal.sentReply(to.token, to.id);
  let target = ham.journal.isPending(noted) && isRestartTarget(noted.p) ? noted.p : null;
  if (target === null) {
    const entity = ham.state.entities.get(name);
    if (entity === undefined) throw new HamError("ENOENT", `no entity ${name}`);
    if (entity.run.pid <= 0) throw new HamError("ESRCH", `${name} has no running process`);
    target = { pid: entity.run.pid, startTime: entity.run.startTime };
    if (to !== null) {
      ham.journal.reply(to.token, to.id, { p: target });
      ham.journal.flush();
    }
  }
  await terminate(target.pid, target.startTime, DEFAULTS.killGraceMs);
  return 0;
}
