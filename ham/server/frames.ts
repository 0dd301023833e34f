import { HamError } from "../../lib/errors.js";
import type { DecodedFrame } from "../../lib/wire/frame.js";
import { parseRequest, SERVER_MAX_FRAME_BYTES } from "../../lib/wire/protocol.js";
import { LOG_LEVEL } from "../adapters/activity-log.js";
import type { ClientState } from "./clients.js";
import type { ServerContext } from "./context.js";
import { ANSWERED_LATER, dispatch } from "./requests.js";
import { CHECKPOINT_READS } from "../core/checkpoints/checkpoints.js";
import type { ReplyTo } from "../core/events.js";
import type { ReplyPayload } from "../daemon/interpreter.js";
import { forwardedOp } from "./remote.js";

// Ops that change the server's part of the HAM-wide record (pulse channels); the core's
// changes come with its change set.
const CHANNEL_OPS: ReadonlySet<string> = new Set(["channel_create", "channel_close"]);
// Ops that change nothing: never journaled, never deduplicated.
const READ_ONLY_OPS: ReadonlySet<string> = new Set(["hello", "ls", "cat", "status", "ps", "nodes", "lookup", "heartbeat", "watch", ...CHECKPOINT_READS]);

// One frame from a client → one reply (or none for a one-way message). A mutation's reply is in
// the shared state in the same write as its changes (the core's answers are recorded by the
// interpreter before the transition's first write; the server's own here, before theirs): a
// request the client sends again after a takeover (same token, same id) gets that reply and is
// not applied twice. A request still under way when its HAM died (hamctl restart) left a
// pending record, which its handler reads back and carries on from.
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
  // A read forwarded to another node (hamctl --node NAME ps) is a read here too.
  const mutation = !READ_ONLY_OPS.has(request.op === "remote" ? forwardedOp(request.a) ?? request.op : request.op);
  const to: ReplyTo | null = mutation && client.token !== null && request.i > 0 ? { token: client.token, id: request.i } : null;
  const earlier = to === null ? undefined : ham.journal.sentReply(to.token, to.id);
  if (earlier !== undefined && !ham.journal.isPending(earlier)) {
    connection.send({ i: request.i, ...(earlier as object) });
    return;
  }
  const send = (payload: ReplyPayload) => {
    if (mutation) {
      // The core's answers are recorded already (an attach's pending one is replaced by its real one).
      const recorded = to === null ? undefined : ham.journal.sentReply(to.token, to.id);
      if (to !== null && (recorded === undefined || ham.journal.isPending(recorded))) ham.journal.reply(to.token, to.id, payload);
      if (CHANNEL_OPS.has(request.op)) ham.journal.changed(["m"]);
      ham.journal.flush();
    }
    if (request.i > 0) connection.send({ i: request.i, ...payload });
  };
  const reply = (result: unknown) => {
    if (result !== ANSWERED_LATER) send({ r: result ?? 0 });
  };
  const replyError = (error: unknown) => {
    const known = error instanceof HamError;
    const code = known ? error.code : "EIO";
    const message = known ? error.message.replace(/^[A-Z]+: /, "") : String(error);
    ham.log.write(LOG_LEVEL.detail, "warn", { event: "api-error", op: request.op, code, pid: client.pid }, message);
    send({ e: code, m: message });
  };
  // Test-only: a fail point may end the HAM right after this request's first write (fail-point.ts).
  if (mutation) ham.journal.writingFor = request.op;
  try {
    const result = dispatch(ham, client, request.op, request.a, to);
    if (result instanceof Promise) result.then(reply, replyError);
    else reply(result);
  } catch (error) {
    replyError(error);
  } finally {
    ham.journal.writingFor = null;
  }
}
