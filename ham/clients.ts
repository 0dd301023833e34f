import type { Entity } from "../lib/tree/types.js";
import type { ServerConnection } from "./server-transport.js";

// What the HAM knows of one client connection: the pid it declared in its hello, the
// entities it self-attached, the pulse channels it owns.
export interface ClientState {
  readonly connection: ServerConnection;
  pid: number;
  token: string | null;
  readonly selfEntities: Set<Entity>;
  readonly channels: Set<number>;
}

// Pulse channels by (pid, chid). After a takeover a channel has no client until its
// process says hello again; a pulse sent meanwhile waits for it (up to UNBOUND_WAIT_MS).
const UNBOUND_WAIT_MS = 5_000;

export class Channels {
  private readonly byKey = new Map<string, ClientState | null>();
  private readonly waiting = new Map<string, Array<{ code: number; value: number; at: number }>>();
  nextId = 1;

  list(): Array<[number, number]> {
    return [...this.byKey.keys()].map((key) => key.split(":").map(Number) as [number, number]);
  }

  // Takeover: channels from the shared state, waiting for their clients.
  restore(channels: ReadonlyArray<[number, number]>, nextId: number): void {
    for (const [pid, chid] of channels) this.byKey.set(`${pid}:${chid}`, null);
    this.nextId = nextId;
  }

  rebind(client: ClientState): void {
    for (const [key, owner] of this.byKey) {
      if (owner !== null || Number(key.split(":")[0]) !== client.pid) continue;
      this.byKey.set(key, client);
      const chid = Number(key.split(":")[1]);
      client.channels.add(chid);
      const now = Date.now();
      for (const pulse of this.waiting.get(key) ?? []) {
        if (now - pulse.at <= UNBOUND_WAIT_MS) client.connection.send({ ev: "pulse", chid, code: pulse.code, value: pulse.value });
      }
      this.waiting.delete(key);
    }
  }

  create(client: ClientState): number {
    const chid = this.nextId++;
    client.channels.add(chid);
    this.byKey.set(`${client.pid}:${chid}`, client);
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
  pulse(pid: number, chid: number, code: number, value: number): boolean {
    const key = `${pid}:${chid}`;
    const client = this.byKey.get(key);
    if (client === undefined) return false;
    if (client === null) {
      let queue = this.waiting.get(key);
      if (queue === undefined) this.waiting.set(key, (queue = []));
      queue.push({ code, value, at: Date.now() });
      return true;
    }
    return client.connection.send({ ev: "pulse", chid, code, value });
  }
}
