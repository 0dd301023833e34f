import { HamError } from "../../../lib/errors.js";
import { LOG_LEVEL } from "../describe.js";
import { fire } from "../firings.js";
import type { GroupEvent, GroupState, HaState, Member } from "./group-state.js";
import { roleTimer, yieldTimer, type Tx } from "../tx.js";
import { electionStep, involves, mayActivate, yieldElection } from "./election-step.js";

// The roles of service groups (groups.ts has the requests that make and change groups).
// The one promise: at most one member of a 2N or no-redundancy group serves (active or
// quiescing) at any instant. A member that may serve stops serving only by dying, or by
// acknowledging a role that does not serve. So a member that fails while its process runs
// (a fatal fault, missed heartbeats, a role refused or not acknowledged) is killed first (the
// `fence` effect), and the next active is chosen once its death is seen. Each assignment is in
// the shared state before it is sent (`persist-now`): a HAM that takes over knows who may serve.

const serves = (role: HaState | null | undefined): boolean => role === "active" || role === "quiescing";
// Whether the member may believe it serves (acknowledged, or sent and not yet acknowledged).
export const mayServe = (member: Member): boolean => serves(member.role) || serves(member.assigning?.role);

// Whether `name` is a member that may serve and whose process runs (it cannot just leave).
export function servingNow(tx: Tx, name: string): boolean {
  const member = groupOfMember(tx, name)?.members.find((item) => item.name === name);
  return member !== undefined && mayServe(member) && (tx.entity(name)?.run.pid ?? 0) > 0;
}

export function groupOfMember(tx: Pick<Tx, "groups">, entity: string): GroupState | undefined {
  for (const group of tx.groups.values()) if (group.members.some((member) => member.name === entity)) return group;
  return undefined;
}

export function memberOf(group: GroupState, name: string): Member {
  const member = group.members.find((item) => item.name === name);
  if (member === undefined) throw new HamError("ENOENT", `${name} is not a member of ${group.name}`);
  return member;
}

function withMember(group: GroupState, name: string, patch: Partial<Member>): GroupState {
  return { ...group, members: group.members.map((member) => (member.name === name ? { ...member, ...patch } : member)) };
}

// `live`: a group being deleted is refused (EBUSY).
export function groupNamed(tx: Tx, name: string, live = false): GroupState {
  const group = tx.groups.get(name);
  if (group === undefined) throw new HamError("ENOENT", `no group ${name}`);
  if (live && group.deleting === true) throw new HamError("EBUSY", `group ${name} is being deleted`);
  return group;
}

// A member can take a role: its process runs and registered its callback.
export function ready(tx: Tx, member: Member): boolean {
  const entity = tx.entity(member.name);
  return !member.failing && entity !== undefined && entity.spec.enabled && entity.run.pid > 0 && entity.run.roleToken !== null;
}


// A member acknowledged the role it was sent (`ok`), or refused it.
export function acknowledged(tx: Tx, group: GroupState, member: Member, role: HaState, ok: boolean, reason: string | null): void {
  cancelAck(tx, group, member);
  if (!ok) {
    memberFailed(tx, member.name, `refused the ${role} role${reason === null ? "" : `: ${reason}`}`);
    return;
  }
  let next = withMember(group, member.name, { role, assigning: null });
  tx.log(LOG_LEVEL.detail, "info", { event: "role", group: group.name, entity: member.name, role }, `${member.name} is ${role} in ${group.name}`);
  if (role === "active" && next.failure !== null) {
    const took = Math.round(tx.at.mono - next.failure.at);
    next = { ...next, failure: null, counters: { ...next.counters, failovers: next.counters.failovers + 1, lastFailoverMs: took } };
    tx.putGroup(next);
    tx.log(LOG_LEVEL.events, "warn", { event: "failover", group: group.name, from: group.failure?.member, to: member.name, ms: took },
      `${group.name} failed over from ${group.failure?.member ?? "?"} to ${member.name} in ${took} ms`);
    fireGroup(tx, next, "failover", group.failure?.member ?? null, member.name);
  } else tx.putGroup(next);
  if (next.switchover !== null) switchoverStep(tx, next.name);
  else reconcile(tx, next.name);
}

// ---- failures

// The member's process died (or detached): it serves no more.
export function memberDied(tx: Tx, name: string): void {
  const group = groupOfMember(tx, name);
  if (group === undefined) return;
  const member = memberOf(group, name);
  cancelAck(tx, group, member);
  const failed = mayServe(member);
  let next = withMember(group, name, { role: null, assigning: null, failing: false });
  if (failed && !member.failing) next = noteFailure(tx, next, name, "died");
  if (involves(next, name)) next = abortSwitchover(tx, next, `${name} died`);
  tx.putGroup(next);
  reconcile(tx, group.name);
}

// A failure of a member whose process may still run: a fatal fault, missed heartbeats, a role
// refused or not acknowledged in time. It is killed (its death then restarts it through its
// own death conditions, and it comes back as a standby: standby role relay).
export function memberFailed(tx: Tx, name: string, reason: string): void {
  const group = groupOfMember(tx, name);
  const entity = tx.entity(name);
  if (group === undefined || entity === undefined) return;
  const member = memberOf(group, name);
  if (member.failing) return;
  cancelAck(tx, group, member);
  tx.log(LOG_LEVEL.events, "warn", { event: "member-failed", group: group.name, entity: name, reason }, `${name} failed in ${group.name}: ${reason}`);
  let next = group;
  if (mayServe(member)) next = noteFailure(tx, next, name, reason);
  if (involves(next, name)) next = abortSwitchover(tx, next, `${name} failed`);
  if (entity.run.pid > 0) {
    // The role it was sent stays: it may believe it until its death is seen (mayServe).
    next = withMember(next, name, { failing: true });
    tx.putGroup(next);
    tx.emit({ kind: "persist-now" });
    tx.emit({ kind: "fence", entity: name, pid: entity.run.pid, startTime: entity.run.startTime });
    return;
  }
  tx.putGroup(withMember(next, name, { role: null, assigning: null }));
  reconcile(tx, group.name);
}

function noteFailure(tx: Tx, group: GroupState, name: string, reason: string): GroupState {
  tx.log(LOG_LEVEL.events, "warn", { event: "group-failure", group: group.name, entity: name }, `${group.name}: serving member ${name} ${reason}`);
  return {
    ...group, failure: group.failure ?? { member: name, at: tx.at.mono, announced: false },
    counters: { ...group.counters, failures: group.counters.failures + 1 },
  };
}

export function abortSwitchover(tx: Tx, group: GroupState, why: string): GroupState {
  const message = `switchover of ${group.name} abandoned: ${why}`;
  tx.log(LOG_LEVEL.events, "warn", { event: "switchover-aborted", group: group.name }, message);
  const to = group.switchover?.requester ?? null;
  if (to !== null) tx.emit({ kind: "reply-error", ref: null, to, code: "ECANCELED", message });
  return { ...group, switchover: null };
}

// The ack deadline passed.
export function ackDue(tx: Tx, gname: string, ename: string, seq: number): void {
  const group = tx.groups.get(gname);
  const member = group?.members.find((item) => item.name === ename);
  if (member?.assigning?.seq !== seq) return;
  memberFailed(tx, ename, `did not acknowledge the ${member.assigning.role} role within ${group?.ackTimeoutMs} ms`);
}

// ---- assignments

// `ackMs`: the time the member has to acknowledge (default: the group's).
export function assign(tx: Tx, group: GroupState, name: string, role: HaState, ackMs = group.ackTimeoutMs): GroupState {
  const seq = group.seq + 1;
  const until = tx.at.mono + ackMs;
  const next = tx.putGroup({ ...withMember(group, name, { assigning: { role, seq, until } }), seq });
  const member = memberOf(next, name);
  // In the shared state before the member can hear of it.
  tx.emit({ kind: "persist-now" });
  send(tx, next, member, role, seq);
  tx.emit({ kind: "arm", id: roleTimer(group.name, name, seq), at: until });
  return next;
}

export function send(tx: Tx, group: GroupState, member: Member, role: HaState, seq: number): void {
  const token = tx.entity(member.name)?.run.roleToken ?? null;
  if (token === null) return;
  // A serving role of a cluster group is leased: it carries the node's lease deadline.
  const leased = group.cluster !== undefined && serves(role);
  tx.emit({ kind: "assign", token, group: group.name, entity: member.name, role, seq, ...(leased ? { leased } : {}) });
}

export function cancelAck(tx: Tx, group: GroupState, member: Member): void {
  if (member.assigning !== null) tx.emit({ kind: "cancel", id: roleTimer(group.name, member.name, member.assigning.seq) });
}

// The roles the group should have, given who is ready: an active (the acknowledged standby
// first, in the members' order), standbys (2N), every ready member active (N-way-active).
export function reconcile(tx: Tx, gname: string): void {
  let group = tx.groups.get(gname);
  if (group === undefined || group.switchover !== null) return;
  if (group.deleting === true) {
    finishDelete(tx, group);
    return;
  }
  const free = (member: Member): boolean => member.assigning === null && ready(tx, member);
  // A switchover abandoned while the active was quiescing: it serves on, as the active again.
  const lingering = group.members.find((member) => member.role === "quiescing" && free(member));
  if (lingering !== undefined && mayActivate(tx, group) && !group.members.some((member) => member !== lingering && mayServe(member))) {
    group = assign(tx, group, lingering.name, "active");
  }
  if (group.model === "N-way-active") {
    for (const member of group.members) if (member.role === null && free(member)) group = assign(tx, group, member.name, "active");
    return;
  }
  let active: string | null = null;
  if (!group.members.some(mayServe)) {
    const candidate = group.members.find((member) => member.role === "standby" && free(member)) ?? group.members.find(free);
    if (candidate !== undefined && mayActivate(tx, group)) {
      active = candidate.name;
      group = assign(tx, group, candidate.name, "active");
    } else if (group.cluster !== undefined) {
      // A cluster group: its active is on the node that holds its election (cluster-groups.ts).
      group = electionStep(tx, group, candidate);
    } else if (group.failure !== null && !group.failure.announced && !group.members.some((member) => member.assigning !== null)) {
      group = tx.putGroup({ ...group, failure: { ...group.failure, announced: true } });
      tx.log(LOG_LEVEL.events, "error", { event: "no-active", group: gname }, `${gname} has no active member and no ready standby`);
      fireGroup(tx, group, "no-active", group.failure?.member ?? null, null);
    }
  }
  if (group.model !== "2N") return;
  for (const member of group.members) {
    if (member.name !== active && (member.role === null || member.role === "quiesced") && free(member)) {
      group = assign(tx, group, member.name, "standby");
    }
  }
}

// A group being deleted goes once none of its members serves (each acknowledged `quiesced`,
// died, or was killed and its death seen).
function finishDelete(tx: Tx, group: GroupState): void {
  const serving = group.members.filter(mayServe);
  if (serving.length > 0) return;
  for (const member of group.members) cancelAck(tx, group, member);
  // A cluster group's election, if this node holds it, goes with it.
  if (group.cluster !== undefined && group.cluster.token !== null) tx.emit({ kind: "resign", group: group.name, token: group.cluster.token });
  tx.deleteGroup(group.name);
  tx.log(LOG_LEVEL.events, "info", { event: "group-deleted", group: group.name }, `group ${group.name} deleted; its members keep running`);
}

// The next step of a switchover, after each acknowledgement.
function switchoverStep(tx: Tx, gname: string): void {
  const group = tx.groups.get(gname);
  const switching = group?.switchover;
  if (group === undefined || switching === null || switching === undefined) return;
  const from = memberOf(group, switching.from);
  if (switching.across != null) {
    // To another node (cross-switchover.ts): quiescing → quiesced → standby here, then the key goes.
    if (from.assigning !== null || switching.across.until !== null) return;
    if (from.role === "quiescing") assign(tx, group, from.name, "quiesced");
    else if (from.role === "quiesced") assign(tx, group, from.name, "standby");
    else if (from.role === "standby") yieldElection(tx, group);
    return;
  }
  const to = memberOf(group, switching.to);
  if (from.assigning !== null || to.assigning !== null) return;
  if (from.role === "quiescing") assign(tx, group, from.name, "quiesced");
  else if (from.role === "quiesced" && to.role === "standby") assign(tx, group, to.name, "active");
  else if (to.role === "active" && from.role === "quiesced") assign(tx, group, from.name, "standby");
  else if (to.role === "active" && from.role === "standby") {
    const took = Math.round(tx.at.mono - switching.startedMono);
    const done = tx.putGroup({
      ...group, switchover: null,
      counters: { ...group.counters, switchovers: group.counters.switchovers + 1, lastSwitchoverMs: took },
    });
    tx.log(LOG_LEVEL.events, "info", { event: "switchover-done", group: gname, from: from.name, to: to.name, ms: took },
      `${gname} switched over from ${from.name} to ${to.name} in ${took} ms`);
    const requester = switching.requester ?? null;
    if (requester !== null) {
      tx.emit({ kind: "reply", ref: null, to: requester, result: { from: from.name, to: to.name, switchover: done.counters.switchovers, ms: took } });
    }
    fireGroup(tx, done, "switchover", from.name, to.name);
    reconcile(tx, gname);
  } else reconcile(tx, gname);
}

// A group event fires its conditions on every member that has them, and the global entity's
// once (on the member it is about).
export function fireGroup(tx: Tx, group: GroupState, event: GroupEvent, from: string | null, to: string | null): void {
  const trigger = { kind: "group", event, group: group.name, from, to } as const;
  // A member of this node (a cross-node switchover's `to` is another node's).
  const subject = [to, from].find((name) => group.members.some((member) => member.name === name)) ?? group.members[0]?.name;
  for (const member of group.members) {
    if (tx.entity(member.name) !== undefined) fire(tx, member.name, trigger, false, member.name === subject);
  }
}

// ---- a takeover: every role still being acknowledged gets its deadline again, and is sent
// again to its member once its session says hello; a failed member still alive is killed
// again (the HAM that died may have written `failing` and died before its kill).
export function resumeGroups(tx: Tx): void {
  for (const group of tx.groups.values()) {
    // A cross-node switchover's yield window (cross-switchover.ts) ends when it did.
    const until = group.switchover?.across?.until ?? null;
    if (until !== null) tx.emit({ kind: "arm", id: yieldTimer(group.name), at: until });
    for (const member of group.members) {
      const run = tx.entity(member.name)?.run;
      if (member.failing && run !== undefined && run.pid > 0) tx.emit({ kind: "fence", entity: member.name, pid: run.pid, startTime: run.startTime });
      if (member.assigning !== null && !member.failing) {
        tx.emit({ kind: "arm", id: roleTimer(group.name, member.name, member.assigning.seq), at: Math.max(member.assigning.until, tx.at.mono + group.ackTimeoutMs) });
      }
    }
  }
}

export function resend(tx: Tx, token: string | null): void {
  if (token === null) return;
  for (const group of tx.groups.values()) {
    for (const member of group.members) {
      if (member.assigning !== null && tx.entity(member.name)?.run.roleToken === token) send(tx, group, member, member.assigning.role, member.assigning.seq);
    }
  }
}

