import { HamError } from "../errors.js";
import { beating } from "./beating.js";
import { placeOfNd, requestAuto } from "./handles.js";
import { existingSession, placeOfNode, releaseIfUnused, runDirOfNode, sessionFor } from "./session.js";

// ham_connect*, ham_disconnect*, ham_stop*, ham_verbose, ham_heartbeat, pulse channels.

async function connect(runDir: string): Promise<number> {
  const session = await sessionFor(runDir).catch((error: unknown) => {
    throw openError(error);
  });
  session.refs += 1;
  return 0;
}

// QNX: ham_connect fails with the errno of its open() of /proc/ham, ENOENT when no HAM runs:
// here no socket, or a socket no HAM listens on. The calls that connect by themselves keep
// EBADF ("could not connect to the HAM"), as QNX documents for them.
function openError(error: unknown): unknown {
  if (!(error instanceof HamError)) return error;
  const cause = (error.cause as { code?: unknown } | undefined)?.code;
  if (cause !== "ENOENT" && cause !== "ECONNREFUSED") return error;
  return new HamError("ENOENT", error.message.replace(/^[A-Z]+: /, ""), { cause: error.cause });
}

function disconnect(runDir: string): Promise<number> {
  const session = existingSession(runDir);
  if (session === undefined || session.refs <= 0) return Promise.reject(new HamError("EINVAL", "no connection to disconnect"));
  session.refs -= 1;
  releaseIfUnused(session);
  return Promise.resolve(0);
}

const noFlags = (flags: number) => {
  if (flags !== 0) throw new HamError("EINVAL", "no flags are defined for this call");
};

export async function ham_connect(flags = 0): Promise<number> {
  noFlags(flags);
  return connect(placeOfNode(null).runDir);
}
export async function ham_connect_nd(nd: number, flags = 0): Promise<number> {
  noFlags(flags);
  return connect(placeOfNd(nd).runDir);
}
export async function ham_connect_node(nodename: string | null, flags = 0): Promise<number> {
  noFlags(flags);
  return connect(placeOfNode(nodename).runDir);
}
export async function ham_disconnect(flags = 0): Promise<number> {
  noFlags(flags);
  return disconnect(placeOfNode(null).runDir);
}
export async function ham_disconnect_nd(nd: number, flags = 0): Promise<number> {
  noFlags(flags);
  return disconnect(placeOfNd(nd).runDir);
}
export async function ham_disconnect_node(nodename: string | null, flags = 0): Promise<number> {
  noFlags(flags);
  return disconnect(placeOfNode(nodename).runDir);
}

export async function ham_stop(): Promise<number> {
  return Number(await requestAuto(placeOfNode(null), "stop", {}));
}
export async function ham_stop_nd(nd: number): Promise<number> {
  return Number(await requestAuto(placeOfNd(nd), "stop", {}));
}
export async function ham_stop_node(nodename: string | null): Promise<number> {
  return Number(await requestAuto(placeOfNode(nodename), "stop", {}));
}

export async function ham_verbose(nodename: string | null, op: number, value: number): Promise<number> {
  return Number(await requestAuto(placeOfNode(nodename), "verbose", { op, value }));
}

// Sends a heartbeat for this process's self-attached entities; always succeeds (QNX).
export function ham_heartbeat(): Promise<number> {
  for (const session of beating.keys()) {
    if (session.closed) beating.delete(session);
    else session.notify("heartbeat", {});
  }
  return Promise.resolve(0);
}

export interface PulseChannel {
  readonly pid: number;
  readonly chid: number;
  close(): Promise<void>;
}

// A channel for notify-pulse actions: its (pid, chid) goes into ham_action_notify_pulse.
export async function ham_channel_create(
  onPulse: (pulse: { code: number; value: number }) => void,
  nodename: string | null = null,
): Promise<PulseChannel> {
  const session = await sessionFor(runDirOfNode(nodename));
  session.holds += 1;
  let reply: { pid: number; chid: number };
  try {
    reply = (await session.request("channel_create", {})) as { pid: number; chid: number };
  } catch (error) {
    session.holds -= 1;
    releaseIfUnused(session);
    throw error;
  }
  session.pulseHandlers.set(reply.chid, onPulse);
  let closed = false;
  return {
    pid: reply.pid,
    chid: reply.chid,
    async close() {
      if (closed) return;
      closed = true;
      session.pulseHandlers.delete(reply.chid);
      await session.request("channel_close", { chid: reply.chid }).catch(() => undefined);
      session.holds -= 1;
      releaseIfUnused(session);
    },
  };
}

