import { HamError } from "../../lib/errors.js";
import { checkName } from "../../lib/names.js";
import type { FaultPolicy } from "../../lib/tree/types.js";
import { LOG_LEVEL } from "./describe.js";
import { fire } from "./firings.js";
import type { Args, Request } from "./specs.js";
import { GROUP_MODELS, type GroupEvent, type GroupModel, type GroupState, type HaState, type Member } from "./state.js";
import { groupServes, roleTimer, type Tx } from "./tx.js";

// Service groups (AIS AMF on one node; seed 000's active/standby with "standby role relay").
// Members are entities; a member's process takes part by registering a role callback
// (ham_role_register → `run.roleToken`). The HAM assigns HA states and each member
// acknowledges them (role_ack); an assignment not acknowledged by `ackTimeoutMs` is a failure.
//
// The one promise: at most one member of a 2N or no-redundancy group serves (active or
// quiescing) at any instant. A member that may serve stops serving only by dying, or by
// acknowledging a role that does not serve. So a member that fails while its process runs
// (a fatal fault, missed heartbeats, a role refused or not acknowledged) is killed first (the
// `fence` effect), and the next active is chosen once its death is seen. Each assignment is in
// the shared state before it is sent (`persist-now`): a HAM that takes over knows who may serve.

export const DEFAULT_ACK_TIMEOUT_MS = 2_000;

const serves = (role: HaState | null | undefined): boolean => role === "active" || role === "quiescing";
// Whether the member may believe it serves (acknowledged, or sent and not yet acknowledged).
export const mayServe = (member: Member): boolean => serves(member.role) || serves(member.assigning?.role);

export function groupOfMember(tx: Pick<Tx, "groups">, entity: string): GroupState | undefined {
  for (const group of tx.groups.values()) if (group.members.some((member) => member.name === entity)) return group;
  return undefined;
}

function memberOf(group: GroupState, name: string): Member {
  const member = group.members.find((item) => item.name === name);
  if (member === undefined) throw new HamError("ENOENT", `${name} is not a member of ${group.name}`);
  return member;
}

function withMember(group: GroupState, name: string, patch: Partial<Member>): GroupState {
  return { ...group, members: group.members.map((member) => (member.name === name ? { ...member, ...patch } : member)) };
}

function groupNamed(tx: Tx, name: string): GroupState {
  const group = tx.groups.get(name);
  if (group === undefined) throw new HamError("ENOENT", `no group ${name}`);
  return group;
}

// A member can take a role: its process runs and registered its callback.
function ready(tx: Tx, member: Member): boolean {
  const entity = tx.entity(member.name);
  return !member.failing && entity !== undefined && entity.spec.enabled && entity.run.pid > 0 && entity.run.roleToken !== null;
}

// ---- requests

function readMembers(args: Args, tx: Tx, group: string): string[] {
  const raw = args.raw("members");
  if (!Array.isArray(raw) || raw.length === 0) throw new HamError("EINVAL", "members must be a non-empty list of entity names");
  const names = raw.map((name) => checkName(name, "entity"));
  if (new Set(names).size !== names.length) throw new HamError("EINVAL", "members must not repeat a name");
  for (const name of names) {
    const other = groupOfMember(tx, name);
    if (other !== undefined && other.name !== group) throw new HamError("EBUSY", `${name} is a member of ${other.name}`);
  }
  return names;
}

function readModel(args: Args): GroupModel {
  const model = args.string("model");
  const known = GROUP_MODELS.find((item) => item === model);
  if (known === undefined) throw new HamError("EINVAL", `model must be one of ${GROUP_MODELS.join(", ")}`);
  return known;
}

function readAckTimeout(args: Args): number {
  const ms = args.int("ackTimeoutMs", DEFAULT_ACK_TIMEOUT_MS);
  if (ms < 10 || ms > 600_000) throw new HamError("EINVAL", "ackTimeoutMs must be within 10..600000");
  return ms;
}

function readFaults(args: Args): FaultPolicy | null {
  const raw = args.raw("faults");
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new HamError("EINVAL", "faults must be an object");
  const policy: Record<string, string> = {};
  for (const [severity, response] of Object.entries(raw)) {
    if (!["minor", "major", "fatal"].includes(severity)) throw new HamError("EINVAL", `faults.${severity}: not a severity (minor, major, fatal)`);
    if (!["none", "log", "restart", "failover"].includes(String(response))) {
      throw new HamError("EINVAL", `faults.${severity}: must be none, log, restart or failover`);
    }
    policy[severity] = String(response);
  }
  return policy;
}

export function groupCreate(tx: Tx, { args }: Request): unknown {
  const name = args.name("gname", "group");
  if (tx.groups.has(name)) throw new HamError("EEXIST", `group ${name} exists`);
  const group: GroupState = {
    name, model: readModel(args), ackTimeoutMs: readAckTimeout(args), faults: readFaults(args),
    members: readMembers(args, tx, name).map((member) => ({ name: member, role: null, assigning: null, failing: false })),
    seq: 0, switchover: null, failure: null,
    counters: {
      createdMs: tx.at.wall, failovers: 0, switchovers: 0, failures: 0, lastFailoverMs: null, lastSwitchoverMs: null,
      upMs: 0, downMs: 0, since: null, firstUpMs: null, repairs: 0, outages: [],
    },
  };
  tx.putGroup(group);
  tx.log(LOG_LEVEL.events, "info", { event: "group", group: name, model: group.model },
    `group ${name} (${group.model}) created: ${group.members.map((member) => member.name).join(", ")}`);
  reconcile(tx, name);
  return { gname: name };
}

export function groupDelete(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  for (const member of group.members) cancelAck(tx, group, member);
  tx.deleteGroup(group.name);
  tx.log(LOG_LEVEL.events, "info", { event: "group-deleted", group: group.name }, `group ${group.name} deleted; its members keep running`);
  return 0;
}

export function groupMemberAdd(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  const name = args.name("ename", "entity");
  if (group.members.some((member) => member.name === name)) throw new HamError("EEXIST", `${name} is a member of ${group.name}`);
  const other = groupOfMember(tx, name);
  if (other !== undefined) throw new HamError("EBUSY", `${name} is a member of ${other.name}`);
  tx.putGroup({ ...group, members: [...group.members, { name, role: null, assigning: null, failing: false }] });
  reconcile(tx, group.name);
  return 0;
}

// A member that leaves while it may serve is treated as failed: it is fenced first.
export function groupMemberRemove(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  const member = memberOf(group, args.name("ename", "entity"));
  if (mayServe(member)) throw new HamError("EBUSY", `${member.name} serves ${group.name}: switch over first`);
  cancelAck(tx, group, member);
  tx.putGroup({ ...group, members: group.members.filter((item) => item.name !== member.name) });
  return 0;
}

// A graceful, manual switchover (2N): the active goes quiescing, then quiesced; the standby
// becomes active; the old active becomes standby. The reply comes at once; the steps follow
// the members' acknowledgements (hamctl switchover waits for them).
export function groupSwitchover(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  if (group.model !== "2N") throw new HamError("EINVAL", `${group.name} is ${group.model}: switchover needs a 2N group`);
  if (group.switchover !== null) throw new HamError("EBUSY", `${group.name}: a switchover is under way`);
  const active = group.members.find((member) => member.role === "active" && member.assigning === null && ready(tx, member));
  const standby = group.members.find((member) => member.role === "standby" && member.assigning === null && ready(tx, member));
  if (active === undefined || standby === undefined) {
    throw new HamError("EBUSY", `${group.name} has no ${active === undefined ? "acknowledged active" : "ready standby"} member`);
  }
  const started = tx.putGroup({ ...group, switchover: { from: active.name, to: standby.name, startedMono: tx.at.mono } });
  tx.log(LOG_LEVEL.events, "info", { event: "switchover", group: group.name, from: active.name, to: standby.name },
    `switchover of ${group.name} from ${active.name} to ${standby.name} started`);
  assign(tx, started, active.name, "quiescing");
  // `switchover`: its number in the group's count, for a caller that waits for it (hamctl).
  return { from: active.name, to: standby.name, switchover: group.counters.switchovers + 1 };
}

// ham_role_register: the caller is the entity's process; its session gets the entity's roles.
export function roleRegister(tx: Tx, { args, caller }: Request): unknown {
  const entity = tx.entity(args.name("ename", "entity"));
  if (entity === undefined || entity.name === "") throw new HamError("ENOENT", `no entity ${args.string("ename")}`);
  if (caller.token === null) throw new HamError("EINVAL", "a role callback needs a client session token");
  if (entity.run.pid <= 0 || entity.run.pid !== caller.pid) {
    throw new HamError("EPERM", `only ${entity.name}'s process (pid ${entity.run.pid}) can register its role callback`);
  }
  tx.run(entity.name, { roleToken: caller.token });
  const group = groupOfMember(tx, entity.name);
  if (group !== undefined) {
    // Registered again by the same process (a new session): a role it was sent goes again.
    const member = memberOf(group, entity.name);
    if (member.assigning !== null) send(tx, group, member, member.assigning.role, member.assigning.seq);
    reconcile(tx, group.name);
  }
  return { group: group?.name ?? null };
}

export function roleAck(tx: Tx, { args, caller }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  const member = memberOf(group, args.name("ename", "entity"));
  const seq = args.int("seq");
  const ok = args.bool("ok", true);
  const entity = tx.entity(member.name);
  if (member.assigning === null || member.assigning.seq !== seq || entity?.run.pid !== caller.pid) return { current: false };
  const role = member.assigning.role;
  cancelAck(tx, group, member);
  if (!ok) {
    memberFailed(tx, member.name, `refused the ${role} role${args.has("reason") ? `: ${args.string("reason")}` : ""}`);
    return { current: true };
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
  return { current: true };
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
  if (next.switchover !== null && (next.switchover.from === name || next.switchover.to === name)) next = abortSwitchover(tx, next, `${name} died`);
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
  if (next.switchover !== null && (next.switchover.from === name || next.switchover.to === name)) next = abortSwitchover(tx, next, `${name} failed`);
  if (entity.run.pid > 0) {
    next = withMember(next, name, { failing: true, assigning: null });
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

function abortSwitchover(tx: Tx, group: GroupState, why: string): GroupState {
  tx.log(LOG_LEVEL.events, "warn", { event: "switchover-aborted", group: group.name }, `switchover of ${group.name} abandoned: ${why}`);
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

function assign(tx: Tx, group: GroupState, name: string, role: HaState): GroupState {
  const seq = group.seq + 1;
  const until = tx.at.mono + group.ackTimeoutMs;
  const next = tx.putGroup({ ...withMember(group, name, { assigning: { role, seq, until } }), seq });
  const member = memberOf(next, name);
  // In the shared state before the member can hear of it.
  tx.emit({ kind: "persist-now" });
  send(tx, next, member, role, seq);
  tx.emit({ kind: "arm", id: roleTimer(group.name, name, seq), at: until });
  return next;
}

function send(tx: Tx, group: GroupState, member: Member, role: HaState, seq: number): void {
  const token = tx.entity(member.name)?.run.roleToken ?? null;
  if (token !== null) tx.emit({ kind: "assign", token, group: group.name, entity: member.name, role, seq });
}

function cancelAck(tx: Tx, group: GroupState, member: Member): void {
  if (member.assigning !== null) tx.emit({ kind: "cancel", id: roleTimer(group.name, member.name, member.assigning.seq) });
}

// The roles the group should have, given who is ready: an active (the acknowledged standby
// first, in the members' order), standbys (2N), every ready member active (N-way-active).
export function reconcile(tx: Tx, gname: string): void {
  let group = tx.groups.get(gname);
  if (group === undefined || group.switchover !== null) return;
  const free = (member: Member): boolean => member.assigning === null && ready(tx, member);
  if (group.model === "N-way-active") {
    for (const member of group.members) if (member.role === null && free(member)) group = assign(tx, group, member.name, "active");
    return;
  }
  let active: string | null = null;
  if (!group.members.some(mayServe)) {
    const candidate = group.members.find((member) => member.role === "standby" && free(member)) ?? group.members.find(free);
    if (candidate !== undefined) {
      active = candidate.name;
      group = assign(tx, group, candidate.name, "active");
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

// The next step of a switchover, after each acknowledgement.
function switchoverStep(tx: Tx, gname: string): void {
  const group = tx.groups.get(gname);
  const switching = group?.switchover;
  if (group === undefined || switching === null || switching === undefined) return;
  const from = memberOf(group, switching.from);
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
    fireGroup(tx, done, "switchover", from.name, to.name);
    reconcile(tx, gname);
  } else reconcile(tx, gname);
}

// A group event fires its conditions on every member that has them, and the global entity's
// once (on the member it is about).
function fireGroup(tx: Tx, group: GroupState, event: GroupEvent, from: string | null, to: string | null): void {
  const trigger = { kind: "group", event, group: group.name, from, to } as const;
  const subject = to ?? from ?? group.members[0]?.name;
  for (const member of group.members) {
    if (tx.entity(member.name) !== undefined) fire(tx, member.name, trigger, false, member.name === subject);
  }
}

// ---- a takeover: every role still being acknowledged gets its deadline again, and is sent
// again to its member once its session says hello; a failed member still alive is killed
// again (the HAM that died may have written `failing` and died before its kill).
export function resumeGroups(tx: Tx): void {
  for (const group of tx.groups.values()) {
    for (const member of group.members) {
      const run = tx.entity(member.name)?.run;
      if (member.failing && run !== undefined && run.pid > 0) tx.emit({ kind: "fence", entity: member.name, pid: run.pid, startTime: run.startTime });
      if (member.assigning !== null) {
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

export { groupServes };
