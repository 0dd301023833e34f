import type { FaultPolicy } from "../../../lib/tree/types.js";
import type { AvailabilityCounters } from "../availability.js";
import type { ReplyTo } from "../reply-to.js";

// Service groups as data (groups.ts, roles.ts): AIS AMF's HA states, assigned by the HAM.

export type HaState = "active" | "standby" | "quiescing" | "quiesced";
export type GroupModel = "2N" | "N-way-active" | "no-redundancy";
export const GROUP_MODELS: readonly GroupModel[] = ["2N", "N-way-active", "no-redundancy"];

export interface Member {
  readonly name: string;
  // The role the member acknowledged last (null: none, or it failed).
  readonly role: HaState | null;
  // A role sent and not yet acknowledged; `until`: its deadline (monotonic ms).
  readonly assigning: { readonly role: HaState; readonly seq: number; readonly until: number } | null;
  // Failed while its process still ran: killed, its death awaited before anyone else serves.
  readonly failing: boolean;
}

export interface GroupCounters extends AvailabilityCounters {
  readonly createdMs: number;
  readonly failovers: number;
  readonly switchovers: number;
  // Failures of a serving member (a death, a fatal fault, missed heartbeats, a role refused).
  readonly failures: number;
  // How long the last failover and switchover took (ms from the failure or the request to the
  // new active's acknowledgement).
  readonly lastFailoverMs: number | null;
  readonly lastSwitchoverMs: number | null;
}

export interface GroupState {
  readonly name: string;
  readonly model: GroupModel;
  readonly ackTimeoutMs: number;
  readonly faults: FaultPolicy | null;
  // In order of preference.
  readonly members: readonly Member[];
  readonly seq: number;
  // A switchover under way (hamctl switchover): from the active to the standby. `requester`: the
  // request that waits for its end (answered then, or when it is abandoned; absent: none).
  // `across`: a switchover to another node of a cluster group (cross-switchover.ts): `to` is the
  // other node's member as declared (NAME@NODE); `until`: the end of the yield window (monotonic
  // ms) once this node gave up its election, null before.
  readonly switchover: {
    readonly from: string; readonly to: string; readonly startedMono: number; readonly requester?: ReplyTo | null;
    readonly across?: { readonly until: number | null } | null;
  } | null;
  // ham_group_delete while members served: they are sent `quiesced`; the group goes once none
  // serves (so no member of it still serves when a group of the same name can be made again).
  readonly deleting?: boolean;
  // The serving member failed then (monotonic ms) and no other acknowledged active yet.
  readonly failure: { readonly member: string; readonly at: number; readonly announced: boolean } | null;
  readonly counters: GroupCounters;
  // A group across the nodes of a cluster (cluster-groups.ts); absent: a group of this node only.
  readonly cluster?: ClusterFacts;
}

// What a cluster group knows of its election (key /hamd/<cluster>/groups/<group>/active).
export interface ClusterFacts {
  // Every member as declared, NAME@NODE (`members` above: this node's, by entity name).
  readonly members: readonly string[];
  // The key's create_revision while this node holds it (the fencing token); null: not held.
  readonly token: string | null;
  // The node that holds the key as last heard (null: free, or not known yet).
  readonly holder: string | null;
  // A campaign is under way (its answer comes as an `elected` or a `holder` event).
  readonly campaigning: boolean;
}


// What a group condition fires on (CONDGROUPFAILOVER, CONDGROUPSWITCHOVER, CONDGROUPNOACTIVE).
export type GroupEvent = "failover" | "switchover" | "no-active";
