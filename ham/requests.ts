import { VERBOSE_GET, VERBOSE_SET, VERBOSE_SET_DECR, VERBOSE_SET_INCR } from "../lib/constants.js";
import { HamError } from "../lib/errors.js";
import { resolveTreePath } from "../lib/tree/browse.js";
import { PROTOCOL_VERSION } from "../lib/wire/protocol.js";
import type { ClientState } from "./clients.js";
import type { ServerContext } from "./context.js";
import { Args } from "./request-args.js";
import * as entities from "./requests-entities.js";
import * as items from "./requests-items.js";

type Handler = (ham: ServerContext, client: ClientState, args: Args) => unknown;

// Every operation of the socket protocol, by name.
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
  attach: (ham, _client, args) => entities.attach(ham, args),
  attach_self: (ham, client, args) => entities.attachSelf(ham, client, args),
  detach: (ham, _client, args) => entities.detach(ham, args),
  detach_self: (ham, client, args) => entities.detachSelf(ham, client, args),
  entity: (ham, _client, args) => entities.placeholder(ham, args),
  entity_condition_state: (ham, _client, args) => entities.reportState(ham, args),
  entity_condition_raise: (ham, _client, args) => entities.reportRaise(ham, args),
  policy: (ham, _client, args) => entities.setPolicy(ham, args),
  condition: (ham, _client, args) => items.condition(ham, args),
  condition_state: (ham, _client, args) => items.conditionState(ham, args),
  condition_raise: (ham, _client, args) => items.conditionRaise(ham, args),
  condition_remove: (ham, _client, args) => items.conditionRemove(ham, args),
  action: (ham, _client, args) => items.action(ham, args),
  action_remove: (ham, _client, args) => items.actionRemove(ham, args),
  action_fail: (ham, _client, args) => items.actionFail(ham, args),
  action_fail_remove: (ham, _client, args) => items.actionFailRemove(ham, args),
  control: (ham, _client, args) => items.control(ham, args),
  lookup: (ham, _client, args) => items.lookup(ham, args),
  heartbeat: (ham, client) => ham.heartbeat(client),
  channel_create: (ham, client) => {
    if (client.pid <= 0) throw new HamError("EINVAL", "no hello received: unknown caller pid");
    return { pid: client.pid, chid: ham.channels.create(client) };
  },
  channel_close: (ham, client, args) => {
    if (!ham.channels.close(client, args.int("chid"))) throw new HamError("ENOENT", "no such channel");
    return 0;
  },
  verbose: (ham, _client, args) => verbose(ham, args.int("op"), args.int("value", 0)),
  stop: (ham) => {
    setImmediate(() => void ham.stop("ham_stop", true));
    return 0;
  },
  status: (ham) => ham.status(),
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
  restart: (ham, _client, args) => ham.restartEntity(args.name("ename", "entity")),
  apply: (ham, _client, args) => ham.applyConfig(args.string("text"), args.string("source")),
};

function verbose(ham: ServerContext, op: number, value: number): number {
  if (value < 0) throw new HamError("EINVAL", "verbosity value must be >= 0");
  const step = value === 0 ? 1 : value;
  switch (op) {
    case VERBOSE_SET_INCR:
      ham.log.verbosity += step;
      return 0;
    case VERBOSE_SET_DECR:
      ham.log.verbosity = Math.max(0, ham.log.verbosity - step);
      return 0;
    case VERBOSE_SET:
      ham.log.verbosity = value;
      return 0;
    case VERBOSE_GET:
      return ham.log.verbosity;
    default:
      throw new HamError("EINVAL", `invalid verbosity operation ${op}`);
  }
}

export function dispatch(ham: ServerContext, client: ClientState, op: string, rawArgs: unknown): unknown {
  const handler = Object.hasOwn(handlers, op) ? handlers[op] : undefined;
  if (handler === undefined) throw new HamError("EINVAL", `unknown operation ${op}`);
  if (op !== "hello" && client.pid <= 0) throw new HamError("EINVAL", "the first request must be hello");
  return handler(ham, client, new Args(rawArgs));
}
