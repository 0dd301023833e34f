import { randomUUID } from "node:crypto";
import { existsSync, unlinkSync } from "node:fs";
import { serveSocket, type ServerConnection } from "../wire/server.js";
import { PendingRequests } from "../wire/pending.js";
import { ReplyMemory } from "../wire/reply-memory.js";
import { openLink, type Link } from "../client/connection.js";
import { HamError } from "../errors.js";
import { parseIncoming, parseRequest } from "../wire/protocol.js";
import { covered, newRecovery, register, registry, type Covered, type RecoveryFn } from "./recovery.js";
import { socketAnswers } from "../wire/probe.js";

// Request/reply services for applications (QNX ChannelCreate / ConnectAttach / MsgSend /
// ConnectDetach), over node-ipc with the project's frames, and their HA covers.
//
// Delivery: a request carries the connection's token and a request id. A server answers a
// request id it has already answered (the last 64 per connection token) with the same reply,
// without calling its handler again. A covered MsgSend whose server died is sent again after
// recovery with the same id: to the same server process, at most once; to a restarted server,
// which has no memory of the first attempt, at least once (the handler may run twice if the
// old server ran it and died before its reply left).

export type MessageHandler = (message: unknown) => unknown;

export interface Channel {
  readonly path: string;
  close(): void;
  // How many clients' replies the server remembers now (those connected or being answered).
  rememberedClients(): number;
}

const MAX_FRAME = 1024 * 1024;
const REMEMBERED = 64;
const DEFAULT_TRIGGERS = ["EBADF", "ECONNRESET", "EPIPE", "ENOTCONN"];

export async function ChannelCreate(path: string, handler: MessageHandler): Promise<Channel> {
  if (existsSync(path)) {
    if (await socketAnswers(path)) throw new HamError("EEXIST", `a server already answers at ${path}`);
    unlinkSync(path); // left by a server that died
  }
  const replies = new ReplyMemory(REMEMBERED);
  // A token's replies are kept while one of its connections is open or one of its requests
  // is being handled, then forgotten: the map no longer grows with every client ever seen.
  const tokenOf = new Map<ServerConnection, string>();
  const inUse = new Map<string, number>();
  const hold = (token: string, by: number) => {
    const count = (inUse.get(token) ?? 0) + by;
    if (count > 0) inUse.set(token, count);
    else {
      inUse.delete(token);
      replies.forget(token);
    }
  };
  const server = await serveSocket(path, { maxConnections: 10_000, maxFrameBytes: MAX_FRAME, maxBufferedBytes: 64 * MAX_FRAME, gid: null }, {
    onOpen: () => undefined,
    onClose: (connection) => {
      const token = tokenOf.get(connection);
      tokenOf.delete(connection);
      if (token !== undefined) hold(token, -1);
    },
    onFrame: (connection, frame) => {
      if (frame.kind !== "message") return;
      const request = parseRequest(frame.value);
      if (typeof request === "string" || request.op !== "msg") return;
      const { m, t } = (request.a ?? {}) as { m?: unknown; t?: unknown };
      const token = String(t);
      if (!tokenOf.has(connection)) {
        tokenOf.set(connection, token);
        hold(token, 1);
      }
      const earlier = replies.recall(token, request.i);
      if (earlier !== undefined) {
        connection.send({ i: request.i, ...(earlier as object) });
        return;
      }
      hold(token, 1);
      void Promise.resolve().then(() => handler(m)).then(
        (r) => ({ r: r ?? null }),
        (error: unknown) => ({ e: "EIO", m: error instanceof Error ? error.message : String(error) }),
      ).then((payload) => {
        replies.remember(token, request.i, payload);
        connection.send({ i: request.i, ...payload });
        hold(token, -1);
      });
    },
  });
  return { path, close: () => server.close(), rememberedClients: () => replies.tokens };
}

interface Connection extends Covered {
  path: string;
  link: Link | null;
  readonly token: string;
  nextId: number;
  readonly pending: PendingRequests;
}

function connectionOf(coid: number): Connection {
  const entry = registry.get(coid);
  if (entry === undefined || !("token" in entry)) throw new HamError("EBADF", `no connection ${coid}`);
  return entry as Connection;
}

// The link closed: every request waiting on it fails as EBADF (the connection is gone).
async function link(connection: Connection): Promise<Link> {
  let opened: Link | null = null;
  const handlers = {
    onMessage: (value: unknown) => {
      const message = parseIncoming(value);
      if (message.kind !== "reply" && message.kind !== "error") return;
      if (message.kind === "reply") connection.pending.resolve(message.id, message.result);
      else connection.pending.reject(message.id, new HamError(message.code, message.message));
    },
    onClose: () => {
      if (connection.link !== opened) return;
      connection.link = null;
      connection.pending.rejectAll(() => new HamError("EBADF", "the server's connection closed"));
    },
  };
  try {
    opened = await openLink(connection.path, handlers);
  } catch (error) {
    throw new HamError("EBADF", `cannot connect to ${connection.path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  connection.link = opened;
  return opened;
}

export async function ConnectAttach(path: string): Promise<number> {
  const connection: Connection = { path, link: null, token: randomUUID(), nextId: 1, pending: new PendingRequests(), recovery: null, recovering: null };
  await link(connection);
  return register(connection);
}

export function ConnectDetach(coid: number): number {
  const connection = connectionOf(coid);
  registry.delete(coid);
  connection.link?.close();
  return 0;
}

function sendOnce(connection: Connection, id: number, message: unknown, timeoutMs: number): Promise<unknown> {
  const current = connection.link;
  if (current === null) return Promise.reject(new HamError("EBADF", "not connected"));
  const answered = connection.pending.wait(id, timeoutMs, "MsgSend");
  current.send({ i: id, op: "msg", a: { m: message, t: connection.token } });
  return answered;
}

// Sends a message and waits for its reply. On an HA connection, a send that fails because the
// server is gone recovers the connection and is sent again, with the same request id.
export function MsgSend(coid: number, message: unknown, timeoutMs = 10_000): Promise<unknown> {
  const connection = connectionOf(coid);
  const id = connection.nextId++;
  return covered(coid, connection, () => undefined, () => sendOnce(connection, id, message, timeoutMs));
}

export async function ha_ConnectAttach<T>(path: string, rfn: RecoveryFn<T>, userHandle: T, _haflags = 0): Promise<number> {
  const coid = await ConnectAttach(path);
  connectionOf(coid).recovery = newRecovery(rfn as RecoveryFn, userHandle, DEFAULT_TRIGGERS);
  return coid;
}

// Inside a recovery function: connects `coid` again (to `path`, or where it was); returns
// the coid, or -1 when no server answers yet (the recovery function may wait and try again).
export async function ha_ReConnectAttach(coid: number, path?: string): Promise<number> {
  const connection = connectionOf(coid);
  connection.link?.close();
  if (path !== undefined) connection.path = path;
  try {
    await link(connection);
    return coid;
  } catch {
    return -1;
  }
}

export function ha_ConnectDetach(coid: number): number {
  connectionOf(coid).recovery = null;
  return ConnectDetach(coid);
}
