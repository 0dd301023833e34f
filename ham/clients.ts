import type { Entity } from "../lib/tree/types.js";
import type { ServerConnection } from "./server-transport.js";

// What the HAM knows of one client connection: the pid it declared in its hello, the
// entities it self-attached, the pulse channels it owns.
export interface ClientState {
  readonly connection: ServerConnection;
  pid: number;
  readonly selfEntities: Set<Entity>;
  readonly channels: Set<number>;
}

// Pulse channels by (pid, chid).
export class Channels {
  private readonly byKey = new Map<string, ClientState>();
  private nextChid = 1;

  create(client: ClientState): number {
    const chid = this.nextChid++;
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
    const client = this.byKey.get(`${pid}:${chid}`);
    if (client === undefined) return false;
    return client.connection.send({ ev: "pulse", chid, code, value });
  }
}
