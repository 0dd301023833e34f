import { HamError } from "../errors.js";
import { resolveRunDir, socketPathOf } from "../run-dir.js";
import { parseIncoming, PROTOCOL_VERSION } from "../wire/protocol.js";
import { openLink, type Link } from "./connection.js";

// One connection per process per HAM (QNX §3.2), reference counted by ham_connect /
// ham_disconnect; every request is answered or rejected with ETIMEDOUT, never lost.

export const DEFAULT_TIMEOUT_MS = 10_000;

interface Pending {
  resolve(value: unknown): void;
  reject(error: HamError): void;
  timer: NodeJS.Timeout;
}

export class Session {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  refs = 0;
  // Holders that keep the connection open beyond ham_connect (self-attach, channels).
  holds = 0;
  closed = false;
  readonly pulseHandlers = new Map<number, (pulse: { code: number; value: number }) => void>();

  private constructor(readonly runDir: string, private link: Link | null) {}

  static async open(runDir: string): Promise<Session> {
    let session: Session | null = null;
    const handlers = { onMessage: (value: unknown) => session?.onMessage(value), onClose: () => session?.onClose() };
    let link: Link | undefined;
    // A burst of connects can fill the listen backlog (EAGAIN): transient, so retry briefly.
    for (let attempt = 0; link === undefined; attempt += 1) {
      try {
        link = await openLink(socketPathOf(runDir), handlers);
      } catch (error) {
        if (attempt >= 50 || !String(error).includes("EAGAIN")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    }
    session = new Session(runDir, link);
    await session.request("hello", { pid: process.pid, version: PROTOCOL_VERSION });
    return session;
  }

  request(op: string, args: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    if (this.closed || this.link === null) return Promise.reject(new HamError("EBADF", "not connected to the HAM"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HamError("ETIMEDOUT", `no reply to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.link?.send({ i: id, op, a: args });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error instanceof HamError ? error : new HamError("EBADF", String(error)));
      }
    });
  }

  // One-way message (heartbeats): no reply, no timer.
  notify(op: string, args: unknown): void {
    if (this.closed || this.link === null) return;
    try {
      this.link.send({ i: 0, op, a: args });
    } catch {
      // a heartbeat that cannot be sent is a missed heartbeat
    }
  }

  close(): void {
    if (this.closed) return;
    this.link?.close();
    this.onClose();
  }

  private onMessage(value: unknown): void {
    const message = parseIncoming(value);
    switch (message.kind) {
      case "reply":
      case "error": {
        const waiter = this.pending.get(message.id);
        if (waiter === undefined) return;
        this.pending.delete(message.id);
        clearTimeout(waiter.timer);
        if (message.kind === "reply") waiter.resolve(message.result);
        else waiter.reject(new HamError(message.code, message.message));
        return;
      }
      case "event":
        if (message.event.ev === "pulse") {
          const { chid, code, value: pulseValue } = message.event;
          const handler = this.pulseHandlers.get(chid);
          if (handler !== undefined) setImmediate(() => handler({ code, value: pulseValue }));
        }
        return;
      case "invalid":
        return;
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.link = null;
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new HamError("EBADF", "connection to the HAM lost"));
      this.pending.delete(id);
    }
    if (sessions.get(this.runDir) === this) sessions.delete(this.runDir);
  }
}

const sessions = new Map<string, Session>();
const opening = new Map<string, Promise<Session>>();

// The process's session with the HAM of runDir, opened when needed.
export async function sessionFor(runDir: string): Promise<Session> {
  const existing = sessions.get(runDir);
  if (existing !== undefined && !existing.closed) return existing;
  let pending = opening.get(runDir);
  if (pending === undefined) {
    pending = Session.open(runDir).then((session) => {
      sessions.set(runDir, session);
      return session;
    }).finally(() => opening.delete(runDir));
    opening.set(runDir, pending);
  }
  return pending;
}

export function existingSession(runDir: string): Session | undefined {
  const session = sessions.get(runDir);
  return session !== undefined && !session.closed ? session : undefined;
}

// Closes the session when nothing holds it any more.
export function releaseIfUnused(session: Session): void {
  if (session.refs <= 0 && session.holds <= 0) session.close();
}

// A node name selects a HAM: the path of its run directory; other names are reserved.
export function runDirOfNode(node: string | null | undefined): string {
  if (node === null || node === undefined || node === "") return resolveRunDir();
  if (!node.startsWith("/")) throw new HamError("EINVAL", `remote HAM nodes are not supported: ${node}`);
  return node;
}
