import type { LogLevelName } from "./describe.js";
import type { HaState } from "./state.js";
import type { ReplyTo } from "./reply-to.js";
import type { ProbeSpec } from "../../lib/tree/types.js";

// What a transition asks of the world, as data. One interpreter (daemon/interpreter.ts)
// carries them out, in order, through the adapters.

// Why a process is being spawned: its result comes back as a `spawned` or `spawn-failed` event.
export type SpawnCause =
  | { readonly kind: "attach"; readonly ref: number; readonly to: ReplyTo | null; readonly previous: boolean }
  | { readonly kind: "restart"; readonly firing: number }
  | { readonly kind: "config"; readonly source: string };

export type Effect =
  // Starts an entity's process (its environment carries HAM_SPAWN=token) and watches its exit.
  // `notifyFd`: the process gets a pipe on that fd; a newline on it is an `entity-ready` event.
  | { readonly kind: "spawn"; readonly entity: string; readonly line: string; readonly token: string; readonly cause: SpawnCause; readonly notifyFd?: number }
  // An execute action: a process nobody watches. Answered with `action-done`.
  | { readonly kind: "execute"; readonly firing: number; readonly entity: string; readonly line: string }
  | { readonly kind: "signal"; readonly firing: number; readonly pid: number; readonly signal: number }
  | { readonly kind: "pulse"; readonly firing: number; readonly pid: number; readonly chid: number; readonly code: number; readonly value: number }
  // A waitfor with a path: answered with `action-done` (true once the path exists, false at `until`).
  | { readonly kind: "watch-path"; readonly firing: number; readonly path: string; readonly until: number }
  // A process the HAM did not spawn (or no longer owns): polled until it dies (`died`).
  | { readonly kind: "watch-pid"; readonly entity: string; readonly pid: number; readonly startTime: number | null; readonly adopted: boolean }
  | { readonly kind: "unwatch-pid"; readonly pid: number }
  // A timer: `timer` event with this id at `at` (monotonic ms); arming an id again moves it.
  | { readonly kind: "arm"; readonly id: string; readonly at: number }
  | { readonly kind: "cancel"; readonly id: string }
  | { readonly kind: "log"; readonly verbosity: number; readonly level: LogLevelName; readonly fields: Readonly<Record<string, unknown>>; readonly message: string }
  | { readonly kind: "verbosity"; readonly value: number }
  // Write what changed so far before the next effect (a spawn a new HAM must know of).
  | { readonly kind: "persist-now" }
  // The answer to request `ref` of this HAM (null: a request answered later, sent to the session
  // `to` names). `to`: the client request it answers; the interpreter records it in the shared
  // state with the transition's own changes, in the same write, so a request sent again after a
  // takeover gets this answer and is not run twice.
  | { readonly kind: "reply"; readonly ref: number | null; readonly to: ReplyTo | null; readonly result: unknown }
  | { readonly kind: "reply-error"; readonly ref: number | null; readonly to: ReplyTo | null; readonly code: string; readonly message: string }
  // The answer a request sent again gets if this HAM dies before its real one (an attach's, until
  // its spawn answers): recorded like a reply, sent to nobody.
  | { readonly kind: "reply-pending"; readonly to: ReplyTo; readonly result: unknown }
  // Self-attached entities: the requesting client's session holds `entity` (its connection is
  // the lifeline) / no session holds it any more.
  | { readonly kind: "bind-self"; readonly ref: number; readonly entity: string }
  | { readonly kind: "unbind-self"; readonly entity: string }
  // Ends a process the HAM started (an apply that added it was undone).
  | { readonly kind: "terminate"; readonly pid: number; readonly startTime: number | null }
  // A service group's role, sent to the member's registered callback (its client session
  // `token`); answered by a role_ack request. Dropped when that session is not connected: its
  // hello (a `rebound` event) sends it again.
  // `leased`: a serving role of a cluster group, sent with the node's lease deadline (`until`).
  | { readonly kind: "assign"; readonly token: string; readonly group: string; readonly entity: string; readonly role: HaState; readonly seq: number; readonly leased?: boolean }
  // Cluster groups (ham/cluster/election.ts): put the group's election key on this node's lease if
  // it is free (answered by `elected` or `holder`); delete it if it is still the one of `token`.
  | { readonly kind: "campaign"; readonly group: string; readonly member: string }
  // `yielded`: given up for a switchover to another node (the others see it was not a failure).
  | { readonly kind: "resign"; readonly group: string; readonly token: string; readonly yielded?: boolean }
  // A failed member that may still serve is killed (SIGKILL, if still the same process) before
  // any other member is made active: at most one active, whatever the failure.
  | { readonly kind: "fence"; readonly entity: string; readonly pid: number; readonly startTime: number | null }
  // The prober checks the entity's process `pid` with these probes (replacing what it checked
  // for it), each first after its start grace; or stops checking it. Results: `probe-results`.
  | { readonly kind: "probe-start"; readonly entity: string; readonly pid: number; readonly probes: readonly ProbeSpec[] }
  | { readonly kind: "probe-stop"; readonly entity: string }
  // A readiness probe of the process `pid` passed: answered by an `entity-ready` event.
  | { readonly kind: "ready"; readonly entity: string; readonly pid: number };
