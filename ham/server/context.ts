import type { Membership } from "../cluster/membership.js";
import type { RemoteCalls } from "../cluster/remote-calls.js";
import type { ActivityLog } from "../adapters/activity-log.js";
import type { Channels, ClientState } from "./clients.js";
import type { Clock } from "../adapters/clock.js";
import type { At, CoreEvent, ReplyTo } from "../core/events.js";
import type { HamState } from "../core/state.js";
import type { HamOptions } from "../daemon/ham-options.js";
import type { Reply } from "../daemon/interpreter.js";
import type { Journal } from "../daemon/persist.js";
import type { TreeView } from "./render.js";

// What the request server (requests.ts, frames.ts), the config file and the /ham view's
// entity may touch of the HAM: never the Ham class itself (which implements this), so no
// module imports the daemon's wiring back. Changes go through the core only.
export interface ServerContext {
  readonly options: HamOptions;
  readonly log: ActivityLog;
  readonly clock: Clock;
  readonly channels: Channels;
  readonly journal: Journal;
  // The core's state now (read only).
  readonly state: HamState;
  // A request the core answers: its reply, or null when it answers later, to its session (`to`).
  coreRequest(client: ClientState, op: string, args: unknown, to: ReplyTo | null): Reply | null;
  applyConfig(make: (ref: number, at: At) => CoreEvent): Reply | null;
  rebind(client: ClientState): void;
  heartbeat(client: ClientState): number;
  view(): TreeView;
  status(): Record<string, unknown>;
  // In a cluster: this node's membership (null outside one).
  readonly membership: Membership | null;
  // In a cluster: calls to the other nodes' HAMs (null outside one).
  readonly remote: RemoteCalls | null;
  stop(reason: string, removeState: boolean): Promise<void>;
}
