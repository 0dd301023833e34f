import { randomUUID } from "node:crypto";
import { HamError } from "../errors.js";
import { resolveRunDir, socketPathOf } from "../run-dir.js";
import { parseIncoming, PROTOCOL_VERSION } from "../wire/protocol.js";
import { openLink, type Link } from "./connection.js";

// One connection per process per HAM (QNX §3.2), reference counted by ham_connect /
// ham_disconnect; every request is answered or rejected with ETIMEDOUT, never lost.
// When the connection drops without the HAM saying goodbye (it died; its Guardian is taking
// over), the session reconnects by itself, says hello with the same token, and sends again
// every request not yet answered: the HAM applies a mutation once and repeats its reply.

export const DEFAULT_TIMEOUT_MS = 10_000;
const RECONNECT_WINDOW_MS = 5_000;

interface Pending {
  resolve(value: unknown): void;
  reject(error: HamError): void;
  timer: NodeJS.Timeout;
  readonly frame: { i: number; op: string; a: unknown };
}

export class Session {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  refs = 0;
  // Holders that keep the connection open beyond ham_connect (self-attach, channels).
  holds = 0;
  closed = false;
  readonly pulseHandlers = new Map<number, (pulse: { code: number; value: number }) => void>();
  readonly token = randomUUID();
  private saidBye = false;
  private reconnecting = false;
  // Told after each reconnection (the cover library re-opens its handles then).
  onReconnect: (() => void) | null = null;
  // Told which entities changed, after a "watch" request (the /ham view's cache).
  onChanged: ((names: readonly string[]) => void) | null = null;

  private constructor(readonly runDir: string, private link: Link | null) {}

  private static async connect(runDir: string, handlers: { onMessage(value: unknown): void; onClose(): void }): Promise<Link> {
    // A burst of connects can fill the listen backlog (EAGAIN): transient, so retry briefly.
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await openLink(socketPathOf(runDir), handlers);
      } catch (error) {
        if (attempt >= 50 || !String(error).includes("EAGAIN")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    }
  }

  private handlers() {
    return { onMessage: (value: unknown) => this.onMessage(value), onClose: () => this.onLinkClosed() };
  }

  static async open(runDir: string): Promise<Session> {
    const session = new Session(runDir, null);
    session.link = await Session.connect(runDir, session.handlers());
    await session.request("hello", session.hello());
    return session;
  }

  private hello(): { pid: number; version: number; token: string } {
    return { pid: process.pid, version: PROTOCOL_VERSION, token: this.token };
  }

  request(op: string, args: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    if (this.closed || (this.link === null && !this.reconnecting)) return Promise.reject(new HamError("EBADF", "not connected to the HAM"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HamError("ETIMEDOUT", `no reply to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      const frame = { i: id, op, a: args };
      this.pending.set(id, { resolve, reject, timer, frame });
      if (this.link === null) return; // sent once reconnected
      try {
        this.link.send(frame);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error instanceof HamError ? error : new HamError("EBADF", String(error)));
      }
    });
  }

  // The connection dropped: unless the HAM said goodbye, reconnect and resend.
  private onLinkClosed(): void {
    if (this.closed) return;
    this.link = null;
    if (this.saidBye || this.reconnecting) {
      if (!this.reconnecting) this.onClose();
      return;
    }
    this.reconnecting = true;
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const started = Date.now();
    const deadline = started + RECONNECT_WINDOW_MS;
    while (!this.closed && Date.now() < deadline) {
      try {
        const link = await Session.connect(this.runDir, this.handlers());
        if (this.closed) {
          link.close();
          return;
        }
        this.link = link;
        this.reconnecting = false;
        // hello first: the HAM gives back this process's entities and channels, then sees
        // every unanswered request again, in order.
        link.send({ i: 0, op: "hello", a: this.hello() });
        for (const waiter of this.pending.values()) link.send(waiter.frame);
        this.onReconnect?.();
        return;
      } catch {
        // A takeover takes tens of ms: try often at first (a refused connect costs little).
        await new Promise((resolve) => setTimeout(resolve, Date.now() - started < 1_000 ? 3 : 25));
      }
    }
    this.reconnecting = false;
    this.onClose();
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
    this.saidBye = true;
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
        if (message.event.ev === "bye") this.saidBye = true;
        if (message.event.ev === "changed") this.onChanged?.(message.event.names);
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
