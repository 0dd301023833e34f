import { HamError } from "../../../lib/errors.js";
import { checkName } from "../../../lib/names.js";
import type { FaultPolicy } from "../../../lib/tree/types.js";
import { LOG_LEVEL } from "../describe.js";
import { warnRestartless } from "../faults.js";
import { GROUP_MODELS, type GroupModel, type GroupState } from "./group-state.js";
import { newClusterFacts, splitMembers, waitingFor } from "./cluster-groups.js";
import { startAcross } from "./cross-switchover.js";
import { acknowledged, assign, cancelAck, groupNamed, groupOfMember, mayServe, memberOf, ready, reconcile, send, servingNow } from "./roles.js";
import { DEFERRED, type Args, type Request } from "../specs.js";
import type { Tx } from "../tx.js";

// Service groups (AIS AMF on one node; seed 000's active/standby with "standby role relay").
// Members are entities; a member's process takes part by registering a role callback
// (ham_role_register → `run.roleToken`). The HAM assigns HA states and each member
// acknowledges them (role_ack); an assignment not acknowledged by `ackTimeoutMs` is a failure.
// Here: the requests that make and change groups. roles.ts assigns the roles, fails over and
// switches over, and says how at most one member serves at any instant.

export const DEFAULT_ACK_TIMEOUT_MS = 2_000;

// ---- requests

function readMembers(args: Args, tx: Tx, group: string): string[] {
  const raw = args.raw("members");
  if (!Array.isArray(raw) || raw.length === 0) throw new HamError("EINVAL", "members must be a non-empty list of entity names");
  const names = raw.map((name) => checkName(name, "entity"));
  if (new Set(names).size !== names.length) throw new HamError("EINVAL", "members must not repeat a name");
  return names;
}

function notInOtherGroup(tx: Tx, names: readonly string[], group: string): void {
  for (const name of names) {
    const other = groupOfMember(tx, name);
    if (other !== undefined && other.name !== group) throw new HamError("EBUSY", `${name} is a member of ${other.name}`);
  }
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

export function groupCreate(tx: Tx, { args, viaConfig }: Request): unknown {
  const name = args.name("gname", "group");
  if (tx.groups.has(name)) throw new HamError("EEXIST", `group ${name} exists${tx.groups.get(name)?.deleting === true ? " (being deleted: its members are leaving their roles)" : ""}`);
  const model = readModel(args);
  // Members NAME@NODE: a group across the nodes of a cluster (cluster-groups.ts).
  const { local, cluster } = splitMembers(tx, readMembers(args, tx, name), model);
  notInOtherGroup(tx, local, name);
  const group: GroupState = {
    name, model, ackTimeoutMs: readAckTimeout(args), faults: readFaults(args),
    members: local.map((member) => ({ name: member, role: null, assigning: null, failing: false })),
    seq: 0, switchover: null, failure: null, ...(cluster === null ? {} : { cluster: newClusterFacts(cluster) }),
    counters: {
      createdMs: tx.at.wall, failovers: 0, switchovers: 0, failures: 0, lastFailoverMs: null, lastSwitchoverMs: null,
      upMs: 0, downMs: 0, since: null, firstUpMs: null, repairs: 0, outages: [],
    },
  };
  tx.putGroup(group);
  tx.log(LOG_LEVEL.events, "info", { event: "group", group: name, model: group.model },
    `group ${name} (${group.model}) created: ${(group.cluster?.members ?? group.members.map((member) => member.name)).join(", ")}`);
  const waiting = waitingFor(tx.meta, group);
  if (waiting.length > 0) {
    tx.log(LOG_LEVEL.events, "warn", { event: "group-waiting", group: name, waiting },
      `group ${name} waits for node${waiting.length > 1 ? "s" : ""} ${waiting.join(", ")}: not in the cluster (never joined, or down); it serves with the nodes it has`);
  }
  reconcile(tx, name);
  // A group's fault policy may ask for restarts (a config file's is judged once applied whole).
  if (viaConfig === undefined) for (const member of group.members) warnRestartless(tx, member.name);
  return { gname: name };
}

// A group whose members serve is deleted gracefully: they are sent `quiesced` and it goes once
// none serves (roles.ts, `reconcile`); the reply comes at once. Its members keep running.
export function groupDelete(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"));
  if (group.deleting === true) return 0;
  let next = tx.putGroup({ ...group, deleting: true, switchover: null });
  for (const member of group.members) {
    if (!member.failing && servingNow(tx, member.name)) next = assign(tx, next, member.name, "quiesced");
  }
  reconcile(tx, group.name);
  return 0;
}

// A config file's group, applied again: its ack timeout and fault policy (the same checks as at
// its creation).
export function groupUpdate(tx: Tx, { args }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"), true);
  tx.putGroup({ ...group, ackTimeoutMs: readAckTimeout(args), faults: readFaults(args) });
  return 0;
}

export function groupMemberAdd(tx: Tx, { args, viaConfig }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"), true);
  const name = args.name("ename", "entity");
  if (group.cluster !== undefined) throw new HamError("EINVAL", `${group.name} is a cluster group: its members are those it was made with`);
  if (group.members.some((member) => member.name === name)) throw new HamError("EEXIST", `${name} is a member of ${group.name}`);
  const other = groupOfMember(tx, name);
  if (other !== undefined) throw new HamError("EBUSY", `${name} is a member of ${other.name}`);
  tx.putGroup({ ...group, members: [...group.members, { name, role: null, assigning: null, failing: false }] });
  reconcile(tx, group.name);
  if (viaConfig === undefined) warnRestartless(tx, name);
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
// becomes active; the old active becomes standby (a cluster group: to another node's member). Without `wait` the reply comes at once; with
// it, the request is answered when the switchover is done or abandoned (roles.ts), from the
// group's state, so a HAM that takes over answers it too (the request sent again finds itself).
export function groupSwitchover(tx: Tx, { args, replyTo }: Request): unknown {
  const group = groupNamed(tx, args.name("gname", "group"), true);
  const wait = args.bool("wait", false) && replyTo !== null;
  if (group.model !== "2N") throw new HamError("EINVAL", `${group.name} is ${group.model}: switchover needs a 2N group`);
  const requester = group.switchover?.requester;
  if (wait && requester !== undefined && requester !== null && requester.token === replyTo.token && requester.id === replyTo.id) return DEFERRED;
  if (group.switchover !== null) throw new HamError("EBUSY", `${group.name}: a switchover is under way`);
  const active = group.members.find((member) => member.role === "active" && member.assigning === null && ready(tx, member));
  // A cluster group: its active goes to another node (cross-switchover.ts); asked on a node
  // that does not hold its election, the server forwards the request to the one that does.
  if (group.cluster !== undefined) {
    const holder = group.cluster.holder;
    if (group.cluster.token === null && holder !== null && holder !== tx.meta.node) {
      throw new HamError("EINVAL", `${group.name} is active on node ${holder}: ask it (hamctl --node ${holder} switchover ${group.name})`);
    }
    if (group.cluster.token === null) throw new HamError("EBUSY", `${group.name} has no active node now (its election is free); try again`);
    if (active === undefined) throw new HamError("EBUSY", `${group.name} has no acknowledged active member on this node`);
    return startAcross(tx, group, active, wait ? replyTo : null);
  }
  const standby = group.members.find((member) => member.role === "standby" && member.assigning === null && ready(tx, member));
  if (active === undefined || standby === undefined) {
    throw new HamError("EBUSY", `${group.name} has no ${active === undefined ? "acknowledged active" : "ready standby"} member`);
  }
  const started = tx.putGroup({ ...group, switchover: { from: active.name, to: standby.name, startedMono: tx.at.mono, requester: wait ? replyTo : null } });
  tx.log(LOG_LEVEL.events, "info", { event: "switchover", group: group.name, from: active.name, to: standby.name },
    `switchover of ${group.name} from ${active.name} to ${standby.name} started`);
  assign(tx, started, active.name, "quiescing");
  // `switchover`: its number in the group's count.
  return wait ? DEFERRED : { from: active.name, to: standby.name, switchover: group.counters.switchovers + 1 };
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
  // A member being killed (failing) is past acknowledging anything.
  if (member.failing || member.assigning === null || member.assigning.seq !== seq || entity?.run.pid !== caller.pid) return { current: false };
  acknowledged(tx, group, member, member.assigning.role, ok, args.has("reason") ? args.string("reason") : null);
  return { current: true };
}
