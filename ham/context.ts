import type { Entity } from "../lib/tree/types.js";
import type { ActivityLog } from "./activity-log.js";
import type { ClientState } from "./clients.js";
import type { Monitor } from "./monitor.js";
import type { HamTree } from "./tree.js";

// What request handlers may touch.
export interface HamContext {
  readonly tree: HamTree;
  readonly monitor: Monitor;
  readonly log: ActivityLog;
  clientsOf(entity: Entity): Iterable<ClientState>;
}
