import type { SpawnCause } from "./effects.js";
import type { Firing } from "./state.js";
import type { ReplyTo } from "./reply-to.js";
import type { ProbeResult } from "./probes.js";

// Everything the HAM reacts to, as data. Each carries the time it happened (`at`), read by
// the interpreter from its Clock: the core never reads a clock.
export interface At {
  // Wall clock, ms since the epoch (what the /ham view shows, restart budgets).
  readonly wall: number;
  // CLOCK_MONOTONIC, ms (deadlines: timers, backoffs, waitfor ends, heartbeat periods).
  readonly mono: number;
}

// Who sent a request: the pid its hello declared and its session token.
export interface Caller {
  readonly pid: number;
  readonly token: string | null;
}

export type { ReplyTo } from "./reply-to.js";

// A fact about a process found by the takeover's adapter, before the takeover event.
export interface TakeoverFacts {
  readonly hamPid: number;
  // Whether this HAM took over from a dead one (counts a HAM failure) or recovered a stopped one's state.
  readonly takeover: boolean;
  // Why the state's journal ended early (a torn record: a write the old HAM died in), or null.
  readonly torn: string | null;
  // Entity name → alive with the same start time.
  readonly alive: ReadonlyMap<string, boolean>;
  // Entity name → the process its spawn token names (spawned before the old HAM noted its pid).
  readonly found: ReadonlyMap<string, { readonly pid: number; readonly startTime: number | null }>;
}

export type CoreEvent =
  // An entity's process died (`reason` describes how, or why its status is unknown).
  | { readonly kind: "died"; readonly at: At; readonly entity: string; readonly pid: number; readonly abnormal: boolean; readonly reason: string; readonly clean?: boolean }
  // A self-attached entity's connection closed without ham_detach_self.
  | { readonly kind: "connection-lost"; readonly at: At; readonly entity: string; readonly pid: number }
  // ham_entity_heartbeat from a client: its self-attached entities with its pid had a beat.
  | { readonly kind: "beat"; readonly at: At; readonly pid: number; readonly entities: readonly string[] }
  | { readonly kind: "timer"; readonly at: At; readonly id: string }
  // An entity's process said it is ready: a newline on its notification fd (with the pid that
  // wrote it), or a readiness probe that passed (core/readiness.ts).
  | { readonly kind: "entity-ready"; readonly at: At; readonly entity: string; readonly pid?: number }
  // The result of an action carried out by an effect (execute, signal, pulse, waitfor).
  | { readonly kind: "action-done"; readonly at: At; readonly firing: number; readonly ok: boolean }
  | { readonly kind: "spawned"; readonly at: At; readonly entity: string; readonly token: string; readonly pid: number; readonly startTime: number | null; readonly cause: SpawnCause }
  | { readonly kind: "spawn-failed"; readonly at: At; readonly entity: string; readonly token: string; readonly code: string; readonly error: string; readonly cause: SpawnCause }
  // An API mutation. `pidStart`: the start time of the process the request names (attach by
  // pid, or the caller for attach_self), read by the server; null when it does not exist.
  | { readonly kind: "request"; readonly at: At; readonly ref: number; readonly op: string; readonly args: unknown; readonly caller: Caller; readonly pidStart: number | null; readonly replyTo?: ReplyTo | null }
  // A client said hello again (after a takeover): these self-attached entities are its again.
  | { readonly kind: "rebound"; readonly at: At; readonly entities: readonly string[]; readonly token: string | null }
  // The state read back from the shared state (records.ts) with the firings that were under way.
  | { readonly kind: "takeover"; readonly at: At; readonly facts: TakeoverFacts; readonly firings: readonly Firing[] }
  // A HAM that recovered a state serves its socket now: its clients can reach it again.
  | { readonly kind: "serving"; readonly at: At }
  // The Guardian died and was replaced (counted in the HAM-wide facts).
  | { readonly kind: "guardian-failed"; readonly at: At }
  // A config file (parsed and checked), applied as one change or not at all.
  | { readonly kind: "apply"; readonly at: At; readonly ref: number; readonly plan: ConfigPlan; readonly source: string; readonly replyTo?: ReplyTo | null }
  // In a cluster (ham/cluster/): a node's key appeared (`self`: this node, at its join) or went.
  // `ttlMs`: this node's lease TTL (at its own join).
  | { readonly kind: "node-up"; readonly at: At; readonly node: string; readonly pid: number | null; readonly self?: boolean; readonly ttlMs?: number }
  | { readonly kind: "node-down"; readonly at: At; readonly node: string }
  // This node's lease deadline passed ("expiring"), or a keepalive was acknowledged again ("ok").
  | { readonly kind: "lease"; readonly at: At; readonly state: "ok" | "expiring" }
  // This node holds a cluster group's election key; `token`: its create_revision, in decimal.
  | { readonly kind: "elected"; readonly at: At; readonly group: string; readonly token: string }
  // Who holds a cluster group's election key now (null: free).
  // `yielded`: freed by its holder for a switchover to another node (not a failure there).
  | { readonly kind: "holder"; readonly at: At; readonly group: string; readonly node: string | null; readonly yielded?: boolean }
  // The prober's results that changed a count or a state (batched; probes.ts).
  | { readonly kind: "probe-results"; readonly at: At; readonly results: readonly ProbeResult[] };

// A config file as the requests that make it (server/config-file.ts builds it): checked whole
// before the apply transition (config.ts) sees it.
export interface PlannedRequest {
  readonly op: string;
  readonly args: Record<string, unknown>;
}

export interface PlannedEntity {
  readonly name: string;
  // A digest of the entity's section: an equal digest is an unchanged entity.
  readonly fingerprint: string;
  readonly create: PlannedRequest;
  readonly setup: readonly PlannedRequest[];
  // The command lines it runs (command, restart and execute lines) and their fields, looked up
  // by the server before an apply.
  readonly programs?: readonly ProgramLine[];
}

// A command line a config file has the HAM run, and the field it is in (`entities[0].command`).
export interface ProgramLine {
  readonly field: string;
  readonly line: string;
}

export interface ConfigPlan {
  readonly entities: readonly PlannedEntity[];
  readonly global: readonly PlannedRequest[];
  readonly globalPrograms?: readonly ProgramLine[];
  // group_create requests, applied after the entities.
  readonly groups?: readonly PlannedRequest[];
}
