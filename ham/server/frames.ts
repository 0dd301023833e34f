import { HamError } from "../../lib/errors.js";
import type { DecodedFrame } from "../../lib/wire/frame.js";
import { parseRequest, SERVER_MAX_FRAME_BYTES } from "../../lib/wire/protocol.js";
import { LOG_LEVEL } from "../adapters/activity-log.js";
import type { ClientState } from "./clients.js";
import type { ServerContext } from "./context.js";
import { dispatch } from "./requests.js";
import { CHECKPOINT_READS } from "../core/checkpoints.js";

// Ops that change the server's part of the HAM-wide record (pulse channels); the core's
// changes come with its change set.
const CHANNEL_OPS: ReadonlySet<string> = new Set(["channel_create", "channel_close"]);
// Ops that change nothing: never journaled, never deduplicated.
const READ_ONLY_OPS: ReadonlySet<string> = new Set(["hello", "ls", "cat", "status", "ps", "lookup", "heartbeat", "watch", ...CHECKPOINT_READS]);

// One frame from a client → one reply (or none for a one-way message). A mutation is in the
// shared state before its reply leaves, with the reply itself: a request the client sends
// again after a takeover (same token, same id) gets that reply and is not applied twice.
export function answerFrame(ham: ServerContext, client: ClientState, frame: DecodedFrame): void {
  const connection = client.connection;
  if (frame.kind === "oversize") {
    connection.send({ i: -1, e: "EMSGSIZE", m: `frame of ${frame.length} bytes exceeds ${SERVER_MAX_FRAME_BYTES}` });
    return;
  }
  if (frame.kind === "malformed") {
    connection.send({ i: -1, e: "EINVAL", m: `malformed frame: ${frame.reason}` });
    return;
  }
  const request = parseRequest(frame.value);
  if (typeof request === "string") {
    connection.send({ i: -1, e: "EINVAL", m: request });
    return;
  }
  ham.log.write(LOG_LEVEL.trace, "info", { event: "request", op: request.op, pid: client.pid }, "request");
  const mutation = !READ_ONLY_OPS.has(request.op);
  const earlier = mutation && client.token !== null && request.i > 0 ? ham.journal.sentReply(client.token, request.i) : undefined;
  if (earlier !== undefined) {
    connection.send({ i: request.i, ...(earlier as object) });
    return;
  }
  // An attach spawns, and a spawn writes the state before the process exists (its token, with
  // the new entity): its success reply goes into that same write, so a HAM that dies after it
  // leaves an entity whose attach, sent again, is answered, not refused with EEXIST (the
  // bench saw it at 10,000 entities). A failure replaces this reply.
  const ename = (request.a as { ename?: unknown } | null)?.ename;
  if (request.op === "attach" && client.token !== null && request.i > 0 && typeof ename === "string") {
    ham.journal.reply(client.token, request.i, { r: { ename } });
  }
  const send = (payload: { r: unknown } | { e: string; m: string }) => {
    if (mutation) {
      if (client.token !== null && request.i > 0) ham.journal.reply(client.token, request.i, payload);
      if (CHANNEL_OPS.has(request.op)) ham.journal.changed(["m"]);
      ham.journal.flush();
    }
    if (request.i > 0) connection.send({ i: request.i, ...payload });
  };
  const reply = (result: unknown) => send({ r: result ?? 0 });
  const replyError = (error: unknown) => {
    const known = error instanceof HamError;
    const code = known ? error.code : "EIO";
    const message = known ? error.message.replace(/^[A-Z]+: /, "") : String(error);
    ham.log.write(LOG_LEVEL.detail, "warn", { event: "api-error", op: request.op, code, pid: client.pid }, message);
    send({ e: code, m: message });
  };
  try {
    const result = dispatch(ham, client, request.op, request.a);
    if (result instanceof Promise) result.then(reply, replyError);
    else reply(result);
  } catch (error) {
    replyError(error);
  }
}
