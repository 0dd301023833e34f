import { randomUUID } from "node:crypto";
import { HamError } from "../errors.js";
import { resolveRunDir, socketPathOf } from "../run-dir.js";
import { parseIncoming, PROTOCOL_VERSION } from "../wire/protocol.js";
import { covered, newRecovery, type Covered, type Recovery } from "../cover/recovery.js";
import { openLink, type Link } from "./connection.js";
import { PendingRequests } from "../wire/pending.js";

// One connection per process per HAM (QNX §3.2), reference counted by ham_connect /
// ham_disconnect; every request is answered or rejected with ETIMEDOUT, never lost.
// When the connection drops without the HAM saying goodbye (it died; its Guardian is taking
// over), every request not yet answered fails with EBADF inside the cover library's
// recovery (lib/cover/recovery.ts, the one way in the project to survive a restarted
// server): the session reconnects, says hello with the same token, and each request is sent
// again with its id: the HAM applies a mutation once and repeats its reply.

export const DEFAULT_TIMEOUT_MS = 10_000;
const RECONNECT_WINDOW_MS = 5_000;
// Below the 64 replies per session the HAM remembers (ham/persist.ts).
const MAX_IN_FLIGHT = 48;

export class Session implements Covered {
  private readonly pending = new PendingRequests();
  private nextId = 1;
  refs = 0;
  // Holders that keep the connection open beyond ham_connect (self-attach, channels).
  holds = 0;
  closed = false;
  readonly pulseHandlers = new Map<number, (pulse: { code: number; value: number }) => void>();
  readonly token = randomUUID();
  private saidBye = false;
  // Covered (lib/cover): reconnecting is this connection's recovery.
  recovery: Recovery | null = newRecovery(() => this.reconnect(), null, ["EBADF"]);
  recovering: Promise<void> | null = null;
  // Told after each reconnection (the cover library re-opens its handles then).
  onReconnect: (() => void) | null = null;
  // Told of each role a service group assigns to an entity of this process (ham_role_register).
  onRole: ((role: { group: string; entity: string; role: string; seq: number; until?: number }) => void) | null = null;
  // A leased role's `until`, renewed (cluster groups).
  onLease: ((lease: { group: string; entity: string; until: number }) => void) | null = null;
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

  // `recover: false`: a probe (hamctl-like tools, the fault lab) that wants to see a dead HAM
  // as a failed request at once, not wait out a reconnection to its successor.
  static async open(runDir: string, timeoutMs = DEFAULT_TIMEOUT_MS, recover = true): Promise<Session> {
    const session = new Session(runDir, null);
    if (!recover) session.recovery = null;
    session.link = await Session.connect(runDir, session.handlers());
    try {
      await session.request("hello", session.hello(), timeoutMs);
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  private hello(): { pid: number; version: number; token: string } {
    return { pid: process.pid, version: PROTOCOL_VERSION, token: this.token };
  }

  // Sends a request and waits for its reply; one id for every attempt, one deadline.
  // At most MAX_IN_FLIGHT requests are out at once (the others wait here, in order): the HAM
  // remembers the last 64 replies of a session, so a request sent again after a takeover is
  // always one it remembers. The fault lab's bench sent 10,000 at once; after a takeover,
  // resent attaches the HAM no longer remembered failed with EEXIST.
  async request(op: string, args: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    if (this.closed) throw new HamError("EBADF", "not connected to the HAM");
    const id = this.nextId++;
    const deadline = Date.now() + timeoutMs;
    const limited = op !== "hello";
    if (limited) await this.slot();
    try {
      return await covered(0, this, () => undefined, () => this.sendOnce(id, op, args, deadline));
    } finally {
      if (limited) this.release();
    }
  }

  private inFlight = 0;
  private readonly waitingForSlot: Array<() => void> = [];

  private slot(): Promise<void> {
    if (this.inFlight < MAX_IN_FLIGHT) {
      this.inFlight += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waitingForSlot.push(resolve));
  }

  private release(): void {
    const next = this.waitingForSlot.shift();
    if (next !== undefined) next();
    else this.inFlight -= 1;
  }

  private sendOnce(id: number, op: string, args: unknown, deadline: number): Promise<unknown> {
    const link = this.link;
    if (this.closed || link === null) return Promise.reject(new HamError("EBADF", "not connected to the HAM"));
    const answered = this.pending.wait(id, deadline - Date.now(), op);
    try {
      link.send({ i: id, op, a: args });
    } catch (error) {
      this.pending.reject(id, error instanceof HamError ? error : new HamError("EBADF", String(error)));
    }
    return answered;
  }

  // The connection dropped: its requests fail with EBADF, which recovers (reconnect()) unless
  // the HAM said goodbye.
  private onLinkClosed(): void {
    if (this.closed) return;
    this.link = null;
    if (this.saidBye) {
      this.onClose();
      return;
    }
    this.pending.rejectAll(() => new HamError("EBADF", "connection to the HAM lost"));
    // No request under way: recover now all the same, so heartbeats and pulses resume.
    if (this.recovering === null) void this.request("hello", this.hello()).catch(() => undefined);
  }

  // The recovery: connect again (a takeover takes tens of ms: try often at first), say hello
  // with the same token; 0 when connected, -1 when no HAM answered for RECONNECT_WINDOW_MS.
  private async reconnect(): Promise<number> {
    const started = Date.now();
    while (!this.closed && !this.saidBye && Date.now() - started < RECONNECT_WINDOW_MS) {
      try {
        const link = await Session.connect(this.runDir, this.handlers());
        if (this.closed) {
          link.close();
          return -1;
        }
        this.link = link;
        // hello first: the HAM gives back this process's entities and channels.
        link.send({ i: 0, op: "hello", a: this.hello() });
        this.onReconnect?.();
        return 0;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Date.now() - started < 1_000 ? 3 : 25));
      }
    }
    this.onClose();
    return -1;
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
        if (message.kind === "reply") this.pending.resolve(message.id, message.result);
        else this.pending.reject(message.id, new HamError(message.code, message.message));
        return;
      }
      case "event":
        if (message.event.ev === "bye") this.saidBye = true;
        if (message.event.ev === "changed") this.onChanged?.(message.event.names);
        if (message.event.ev === "role") {
          const role = message.event;
          setImmediate(() => this.onRole?.(role));
        }
        // At once, not after a turn: a renewal must not lose a race with the lease's own timer.
        if (message.event.ev === "lease") this.onLease?.(message.event);
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
    this.pending.rejectAll(() => new HamError("EBADF", "connection to the HAM lost"));
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

// Where a call goes: a HAM on this machine (its run directory) and, for a call to another node
// of its cluster, that node's name (null: that HAM itself). Clients only talk to their local
// HAM's socket; it forwards a node's calls to that node's HAM (ham/server/remote.ts).
export interface Place {
  readonly runDir: string;
  readonly node: string | null;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

// A node name: the path of a run directory selects that HAM on this machine; null or "" the
// HAM found as today; any other name a node of the local HAM's cluster.
export function placeOfNode(node: string | null | undefined): Place {
  if (node === null || node === undefined || node === "") return { runDir: resolveRunDir(), node: null };
  if (typeof node !== "string") throw new HamError("EINVAL", "a node name must be a string");
  if (node.startsWith("/")) return { runDir: node, node: null };
  if (!NODE_NAME.test(node)) throw new HamError("EINVAL", `not a node name (letters, digits, '.', '_', '-'; up to 63): ${node}`);
  return { runDir: resolveRunDir(), node };
}

// For calls about the calling process itself (its role callback, its pulse channels): a HAM on
// this machine only, never another node's.
export function runDirOfNode(node: string | null | undefined): string {
  const place = placeOfNode(node);
  if (place.node !== null) throw new HamError("EINVAL", `this call is about the calling process: it is made on the local HAM only, never on node ${place.node}`);
  return place.runDir;
}

// Margin for the forwarding HAM to answer ETIMEDOUT before the session gives up itself.
const FORWARD_MARGIN_MS = 2_000;
export const REMOTE_DEFAULT_TIMEOUT_MS = 5_000;

// Sends a request on a session to the HAM of `place`: as is, or to be forwarded to its node.
export function requestAt(session: Session, place: Place, op: string, args: unknown, timeoutMs?: number): Promise<unknown> {
  if (place.node === null) return session.request(op, args, timeoutMs);
  const remoteMs = timeoutMs ?? REMOTE_DEFAULT_TIMEOUT_MS;
  return session.request("remote", { node: place.node, op, a: args, timeoutMs: remoteMs }, remoteMs + FORWARD_MARGIN_MS);
}
