import { HamError } from "../../../lib/errors.js";
import { LOG_LEVEL } from "../describe.js";
import { DEFERRED } from "../specs.js";
import { yieldTimer, type Tx } from "../tx.js";
import type { ReplyTo } from "../reply-to.js";
import type { GroupState, Member } from "./group-state.js";
import { abortSwitchover, assign, fireGroup, reconcile } from "./roles.js";
import { nodesUp } from "../nodes/node-facts.js";
import { yieldMs } from "./election-step.js";

// A switchover of a cluster group to another node (hamctl switchover on the node that holds the
// group's election; server/requests.ts forwards it there from the others). The active member is
// taken through quiescing → quiesced → standby by the acknowledged role path (roles.ts), so it
// serves no more before anything else; then this node gives its election key up (a delete
// conditioned on its token: `yieldElection` in election-step.ts) and does not campaign again for
// a yield window (2 × TTL), so another node, seeing the key free, campaigns and makes its standby
// active (its usual path). This node hears who holds the key in its watch (`holder`): that ends
// the switchover. The window passing with nobody taking the key, or every other node of the group
// going down, abandons it: reconcile then campaigns again and makes this node's member active again.
// All of it is in the group's state (`switchover.across`), so a HAM that takes over carries on.

export const nodesOf = (members: readonly string[]): string[] => [...new Set(members.map(nodeOfMember))];
export const nodeOfMember = (member: string): string => member.slice(member.lastIndexOf("@") + 1);

// Whether the group's node gave up its election for a switchover and waits for another to take it.
export const yielding = (group: GroupState): boolean => group.switchover?.across != null && group.switchover.across.until !== null;

// The other nodes of the group whose keys are there, and their members, in the declared order.
function othersUp(tx: Tx, group: GroupState): string[] {
  const up = new Set(nodesUp(tx.meta));
  return (group.cluster?.members ?? []).filter((member) => nodeOfMember(member) !== tx.meta.node && up.has(nodeOfMember(member)));
}

// groupSwitchover (groups.ts) on a cluster group: `active` is this node's acknowledged active.
export function startAcross(tx: Tx, group: GroupState, active: Member, requester: ReplyTo | null): unknown {
  const facts = group.cluster;
  if (facts === undefined) throw new HamError("EINVAL", `${group.name} is not a cluster group`);
  if (facts.token === null || tx.meta.leaseOk !== true) {
    throw new HamError("EBUSY", `${group.name}: this node (${tx.meta.node ?? "?"}) does not hold its election now; try again`);
  }
  const others = othersUp(tx, group);
  const to = others[0];
  if (to === undefined) throw new HamError("EBUSY", `${group.name}: no other node of the group is up to take it over`);
  const self = `${active.name}@${tx.meta.node ?? "?"}`;
  const started = tx.putGroup({ ...group, switchover: { from: active.name, to, startedMono: tx.at.mono, requester, across: { until: null } } });
  tx.log(LOG_LEVEL.events, "info", { event: "switchover", group: group.name, from: self, to },
    `switchover of ${group.name} from ${self} to ${to} started (across nodes)`);
  assign(tx, started, active.name, "quiescing");
  return requester !== null ? DEFERRED : { from: self, to, switchover: group.counters.switchovers + 1 };
}

// Another node holds the key (its watch, or a refresh): a yielding switchover is done.
export function acrossHolder(tx: Tx, gname: string, node: string): void {
  const group = tx.groups.get(gname);
  const switching = group?.switchover;
  if (group === undefined || switching == null || !yielding(group)) return;
  tx.emit({ kind: "cancel", id: yieldTimer(gname) });
  const took = Math.round(tx.at.mono - switching.startedMono);
  const from = `${switching.from}@${tx.meta.node ?? "?"}`;
  const to = group.cluster?.members.find((member) => nodeOfMember(member) === node) ?? `?@${node}`;
  const done = tx.putGroup({
    ...group, switchover: null,
    counters: { ...group.counters, switchovers: group.counters.switchovers + 1, lastSwitchoverMs: took },
  });
  tx.log(LOG_LEVEL.events, "info", { event: "switchover-done", group: gname, from, to, ms: took },
    `${gname} switched over from ${from} to ${to} in ${took} ms (node ${node} holds its election)`);
  const requester = switching.requester ?? null;
  if (requester !== null) tx.emit({ kind: "reply", ref: null, to: requester, result: { from, to, switchover: done.counters.switchovers, ms: took } });
  fireGroup(tx, done, "switchover", switching.from, to);
}

// The yield window ended and no other node took the key.
export function yieldDue(tx: Tx, gname: string): void {
  const group = tx.groups.get(gname);
  if (group === undefined || !yielding(group)) return;
  abandon(tx, group, `no other node took its election within ${yieldMs(tx)} ms (is its member standby?)`);
}

// A node went down: a switchover with no other node of the group left up is abandoned.
export function acrossNodeDown(tx: Tx, node: string): void {
  for (const group of [...tx.groups.values()]) {
    if (group.switchover?.across == null || group.cluster === undefined || !nodesOf(group.cluster.members).includes(node)) continue;
    if (othersUp(tx, group).length === 0) abandon(tx, group, `node ${node} went down and no other node of the group is up`);
  }
}

// Its member serves again: as active again if it was still quiescing or quiesced here, or, once
// the key was given up, by campaigning again with it as the acknowledged standby (reconcile).
function abandon(tx: Tx, group: GroupState, why: string): void {
  tx.emit({ kind: "cancel", id: yieldTimer(group.name) });
  tx.putGroup(abortSwitchover(tx, group, why));
  reconcile(tx, group.name);
}
