import type { TreeView } from "../lib/tree/render.js";
import type { Entity } from "../lib/tree/types.js";
import type { ActivityLog } from "./activity-log.js";
import type { Channels, ClientState } from "./clients.js";
import type { HamOptions } from "./ham-options.js";
import type { Monitor } from "./monitor.js";
import type { ConfigState, EntityValue, Journal } from "./persist.js";
import type { HamTree } from "./tree.js";

// What the parts of the HAM may touch of it, as interfaces: the request handlers, the config
// file, the /ham view's entity and the takeover take these, never the Ham class (which
// implements them), so no module imports the daemon's wiring back.

// The request handlers of entities, conditions and actions.
export interface HamContext {
  readonly tree: HamTree;
  readonly monitor: Monitor;
  readonly log: ActivityLog;
  readonly options: HamOptions;
  clientsOf(entity: Entity): Iterable<ClientState>;
  // After a change too wide to follow piece by piece (a config file applied).
  changedAll(): void;
}

// The whole request server (requests.ts, frames.ts).
export interface ServerContext extends HamContext {
  readonly channels: Channels;
  readonly journal: Journal;
  rebind(client: ClientState): void;
  heartbeat(client: ClientState): number;
  status(): Record<string, unknown>;
  view(): TreeView;
  restartEntity(name: string): Promise<number>;
  applyConfig(text: string, source: string): Record<string, unknown>;
  stop(reason: string, removeState: boolean): Promise<void>;
}

// A HAM rebuilt from the shared state (takeover.ts).
export interface RecoveryContext extends ServerContext {
  meta: { hamFailures: number; guardianFailures: number; nextFiringId: number; spawnCount: number };
  readonly config: { restore(state: ConfigState): void };
  restoreEntity(value: EntityValue): Entity;
}
