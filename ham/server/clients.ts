import { CHECKPOINTS_DIR } from "./checkpoint-view.js";
import type { ServerConnection } from "../../lib/wire/server.js";
import { readStartTime } from "../adapters/processes.js";

// What the HAM knows of one client connection: the pid it declared in its hello, the
// entities it self-attached, the pulse channels it owns.
export interface ClientState {
  readonly connection: ServerConnection;
  pid: number;
  token: string | null;
  // Sent {ev: "changed"} when entities change (the /ham view).
  watching?: boolean;
  // Names of the entities it self-attached: its connection is their lifeline.
  readonly selfEntities: Set<string>;
  readonly channels: Set<number>;
}

// The HAM itself as a client: requests it makes of itself (a config file, the /ham view).
export function internalClient(): ClientState {
  return {
    connection: { id: 0, send: () => true, close: () => undefined },
    pid: process.pid, token: null, selfEntities: new Set(), channels: new Set(),
  };
}

// Pulse channels by (pid, chid), each owned by one client session (its token). After a
// takeover a channel has no client until that session says hello again; a pulse sent
// meanwhile waits for it (up to UNBOUND_WAIT_MS).
const UNBOUND_WAIT_MS = 5_000;

interface Channel {
  client: ClientState | null;
  readonly token: string | null;
}

export class Channels {
  private readonly byKey = new Map<string, Channel>();
  private readonly waiting = new Map<string, Array<{ code: number; value: number; at: number }>>();
  nextId = 1;

  list(): Array<[number, number, string | null]> {
    return [...this.byKey].map(([key, channel]) => {
      const [pid, chid] = key.split(":").map(Number) as [number, number];
      return [pid, chid, channel.token];
    });
  }

  // Takeover: channels from the shared state, waiting for their clients.
  restore(channels: ReadonlyArray<readonly [number, number, string | null]>, nextId: number): void {
    for (const [pid, chid, token] of channels) this.byKey.set(`${pid}:${chid}`, { client: null, token });
    this.nextId = nextId;
  }

  rebind(client: ClientState, now: number): void {
    for (const [key, channel] of this.byKey) {
      if (channel.client !== null || channel.token !== client.token || Number(key.split(":")[0]) !== client.pid) continue;
      channel.client = client;
      const chid = Number(key.split(":")[1]);
      client.channels.add(chid);
      for (const pulse of this.waiting.get(key) ?? []) {
        if (now - pulse.at <= UNBOUND_WAIT_MS) client.connection.send({ ev: "pulse", chid, code: pulse.code, value: pulse.value });
      }
      this.waiting.delete(key);
    }
  }

  create(client: ClientState): number {
    const chid = this.nextId++;
    client.channels.add(chid);
    this.byKey.set(`${client.pid}:${chid}`, { client, token: client.token });
    return chid;
  }

  close(client: ClientState, chid: number): boolean {
    if (!client.channels.delete(chid)) return false;
    this.byKey.delete(`${client.pid}:${chid}`);
    return true;
  }

  closeAll(client: ClientState): void {
    for (const chid of client.channels) this.byKey.delete(`${client.pid}:${chid}`);
    client.channels.clear();
  }

  // Delivers a pulse; false when no such channel is open (the action then fails).
  pulse(pid: number, chid: number, code: number, value: number, now: number): boolean {
    const key = `${pid}:${chid}`;
    const channel = this.byKey.get(key);
    if (channel === undefined) return false;
    if (channel.client === null) {
      let queue = this.waiting.get(key);
      if (queue === undefined) this.waiting.set(key, (queue = []));
      queue.push({ code, value, at: now });
      return true;
    }
    return channel.client.connection.send({ ev: "pulse", chid, code, value });
  }
}

// Tells watching clients (the /ham view) which entities the last changes touched ("" is the
// global entity), at most every 5 ms, from the keys of the state records written.
export class ChangeAnnouncer {
  private readonly names = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly clients: () => Iterable<ClientState>) {}

  changed(keys: readonly string[]): void {
    for (const key of keys) {
      if (key === "g") this.names.add("");
      else if (key.startsWith("e/") || key.startsWith("c/")) this.names.add(key.split("/")[1] ?? "");
      else if (key.startsWith("G/")) this.names.add(".groups");
      // The view's .checkpoints directory (checkpoint-view.ts): no entity has a name starting with ".".
      else if (key.startsWith("k/") || key.startsWith("s/")) this.names.add(CHECKPOINTS_DIR);
      // The nodes known (core/nodes/) are in the HAM-wide record: the .nodes directory.
      else if (key === "m") this.names.add(".nodes");
    }
    if (this.names.size === 0 || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const names = [...this.names];
      this.names.clear();
      for (const client of this.clients()) if (client.watching === true) client.connection.send({ ev: "changed", names });
    }, 5);
  }
}

// The start time of the process a request names (attach by pid, attach_self's caller), read here:
// the core reads no /proc.
export function pidStartOf(client: ClientState, op: string, args: unknown): number | null {
  if (op === "attach_self") return readStartTime(client.pid);
  if (op !== "attach" || typeof args !== "object" || args === null) return null;
  const pid = (args as { pid?: unknown }).pid;
  return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? readStartTime(pid) : null;
}
