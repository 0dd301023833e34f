import { ENTITY_FLAGS, HAMHBEATMIN, VERBOSE_GET, VERBOSE_SET, VERBOSE_SET_DECR, VERBOSE_SET_INCR } from "../../lib/constants.js";
import { splitCommandLine } from "../../lib/command-line.js";
import { HamError } from "../../lib/errors.js";
import { readPolicy, checkFlags, DEFERRED, type Args, type Request } from "./specs.js";
import { armHeartbeat, freshBeat } from "./heartbeats.js";
import { dropEntity } from "./episodes.js";
import { fire } from "./firings.js";
import { newEntity, entityOf } from "./state.js";
import { LOG_LEVEL } from "./describe.js";
import type { EntityState } from "./state.js";
import type { Tx } from "./tx.js";
import * as items from "./items.js";
import * as groups from "./groups/groups.js";
import { memberDied, servingNow } from "./groups/roles.js";
import { answerFault, warnRestartless } from "./faults.js";
import { CHECKPOINT_REQUESTS } from "./checkpoints/checkpoints.js";
import { nodeEntity, refuseNode, refuseProcess } from "./nodes/node-entities.js";
import { isNodeEntityName } from "./nodes/node-facts.js";
import { entityReady, holdStart, notifyOf, readReadiness, startWaiting } from "./readiness.js";
import { serviceStart, serviceStop } from "./services.js";
import { removeProbe, setProbe } from "./probes.js";

// Every API mutation as a transition. A handler checks everything before it changes
// anything, and throws HamError for bad input; the step then drops the transition whole.

export { DEFERRED };

type Handler = (tx: Tx, request: Request) => unknown;

// A name may be reused when it is a placeholder or a dead entity kept by HENTITYKEEPONDEATH.
function fillable(entity: EntityState): boolean {
  return entity.spec.kind === "placeholder" || (entity.run.pid === 0 && entity.run.episode === null);
}

function attach(tx: Tx, { ref, replyTo, args, pidStart, viaConfig }: Request): unknown {
  const ename = args.name("ename", "entity");
  refuseProcess(ename, "ham_attach");
  const pid = args.int("pid", -1);
  const line = args.optionalString("line");
  const flags = checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  if (pid <= 0 && line === null) throw new HamError("EINVAL", "ham_attach needs a pid > 0 or a command line");
  if (pid <= 0 && line !== null) splitCommandLine(line);
  // Readiness and requirements come from a config file's entity (config-file.ts).
  const readiness = readReadiness(args.raw("readiness"));
  if (pid > 0 && (readiness.mode !== "start" || readiness.requires.length > 0)) {
    throw new HamError("EINVAL", "readiness and requires need a command line the HAM starts");
  }
  const existing = tx.entities.get(ename);
  if (existing !== undefined && !fillable(existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  if (pid > 0 && pidStart === null) throw new HamError("ESRCH", `no process ${pid}`);
  const base = existing ?? newEntity(ename, "attached", tx.at.wall);
  tx.put({
    ...base,
    spec: { ...base.spec, kind: "attached", flags, command: pid > 0 ? null : line, readiness },
    counters: { ...base.counters, gaveUp: false },
    run: { ...base.run, ready: false, waiting: false },
  });
  // Its requirements are not all ready: it waits (readiness.ts starts it).
  if (pid <= 0 && viaConfig !== undefined && holdStart(tx, ename)) return { ename };
  if (pid <= 0) {
    const token = tx.nextSpawnToken(ename);
    tx.run(ename, { spawnToken: token });
    // A HAM that dies before the spawn answers leaves the entity (its process, if started, is
    // found by its token; if not, the takeover starts it): a resend gets the success reply.
    if (replyTo !== null) tx.emit({ kind: "reply-pending", to: replyTo, result: { ename } });
    tx.emit({ kind: "persist-now" });
    const cause = viaConfig === undefined ? { kind: "attach" as const, ref, to: replyTo, previous: existing !== undefined } : { kind: "config" as const, source: viaConfig };
    tx.emit({ kind: "spawn", entity: ename, line: line ?? "", token, cause, ...notifyOf(tx, ename) });
    return DEFERRED;
  }
  tx.run(ename, { pid, startTime: pidStart, ownChild: false });
  tx.emit({ kind: "watch-pid", entity: ename, pid, startTime: pidStart, adopted: false });
  tx.log(LOG_LEVEL.events, "info", { event: "attach", entity: ename, pid }, `${ename} attached (pid ${pid})`);
  if (existing !== undefined) fire(tx, ename, { kind: "attach" });
  startWaiting(tx, ename);
  return { ename };
}

// The caller's own session self-attached this entity (a restarted process has a new session).
function selfAttachedBy(entity: EntityState, caller: Request["caller"]): boolean {
  return entity.spec.kind === "self" && entity.run.pid === caller.pid && entity.run.clientToken === caller.token;
}

function attachSelf(tx: Tx, { ref, args, caller, pidStart }: Request): unknown {
  const ename = args.name("ename", "entity");
  refuseProcess(ename, "ham_attach_self");
  const hp = args.int("hp", 0);
  const low = args.int("hpdl", 0);
  const high = args.int("hpdh", 0);
  checkFlags(args.flags(), 0, "ham_attach_self");
  if (caller.pid <= 0) throw new HamError("EINVAL", "no hello received: unknown caller pid");
  if (hp < 0 || (hp > 0 && hp < HAMHBEATMIN)) throw new HamError("EINVAL", `heartbeat period must be 0 or >= ${HAMHBEATMIN} ns`);
  if (low < 0 || high < 0) throw new HamError("EINVAL", "heartbeat thresholds must be >= 0");
  if (low > 0 && high > 0 && low > high) throw new HamError("EINVAL", "hpdl must be <= hpdh");
  const existing = tx.entities.get(ename);
  // QNX: a name in use is EEXIST, even to the process that self-attached it (a second attach
  // would hold its connection twice). A session sending its attach_self again after a takeover
  // never gets here: the reply is repeated by its token and id (server/frames.ts).
  if (existing !== undefined && selfAttachedBy(existing, caller)) throw new HamError("EEXIST", `${ename} is already self-attached by pid ${caller.pid}`);
  // A process the HAM started (or attached by pid, or restarted for a self-attached entity)
  // may declare itself: same pid, same entity.
  const rebinding = existing !== undefined && existing.run.pid === caller.pid && existing.spec.kind !== "placeholder";
  if (existing !== undefined && !rebinding && !fillable(existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  const base = existing ?? newEntity(ename, "self", tx.at.wall);
  const run = rebinding ? base.run : { ...base.run, pid: caller.pid, startTime: pidStart, ownChild: false };
  tx.put({
    ...base,
    spec: { ...base.spec, kind: "self", heartbeat: hp === 0 ? null : { periodNs: hp, low, high } },
    counters: { ...base.counters, gaveUp: false, startedMs: rebinding ? base.counters.startedMs : tx.at.wall },
    run: { ...run, clientToken: caller.token, heartbeat: hp === 0 ? null : freshBeat() },
  });
  tx.emit({ kind: "bind-self", ref, entity: ename });
  armHeartbeat(tx, ename, 0);
  tx.log(LOG_LEVEL.events, "info", { event: "attach-self", entity: ename, pid: caller.pid }, `${ename} self-attached (pid ${caller.pid})`);
  if (existing !== undefined && !rebinding) fire(tx, ename, { kind: "attach" });
  startWaiting(tx, ename);
  return { ename };
}

// ham_ready(): the caller says its entity is ready (readiness "notify"). Only the entity's own
// process may (systemd's NotifyAccess=main): a shell that starts it should exec it. Ready
// already (or readiness "start"): nothing changes, 0 all the same.
function ready(tx: Tx, { args, caller }: Request): unknown {
  const entity = entityOf(tx.state, args.name("ename", "entity"));
  refuseProcess(entity.name, "ham_ready");
  if (entity.spec.kind === "placeholder") throw new HamError("ESRCH", `${entity.name} has no process`);
  if (entity.run.pid <= 0) throw new HamError("ESRCH", `${entity.name} has no running process`);
  if (entity.run.pid !== caller.pid) throw new HamError("EPERM", `pid ${caller.pid} is not ${entity.name}'s process (pid ${entity.run.pid})`);
  entityReady(tx, entity.name, caller.pid, "ham_ready");
  return 0;
}

export function detachEntity(tx: Tx, entity: EntityState, how: string): void {
  tx.log(LOG_LEVEL.events, "info", { event: "detach", entity: entity.name, pid: entity.run.pid }, `${entity.name} detached (${how})`);
  // Its detach conditions fire with the entity as it was; then it leaves the HAM (and the
  // roles of its group: by ham_detach_self the process itself says it serves no more).
  fire(tx, entity.name, { kind: "detach" });
  memberDied(tx, entity.name);
  dropEntity(tx, entity.name);
}

function detach(tx: Tx, { args }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity cannot be detached");
  if (entity.spec.kind === "self") throw new HamError("EINVAL", `${entity.name} is self-attached: use ham_detach_self`);
  if (servingNow(tx, entity.name)) {
    throw new HamError("EBUSY", `${entity.name} serves its group: switch it over (or remove it from the group) first`);
  }
  detachEntity(tx, entity, "ham_detach");
  return 0;
}

function detachSelf(tx: Tx, { args, caller }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind !== "self") throw new HamError("EINVAL", `${entity.name} is not self-attached`);
  if (entity.run.pid !== caller.pid) throw new HamError("EINVAL", `${entity.name} was not attached by the caller`);
  detachEntity(tx, entity, "ham_detach_self");
  return 0;
}

// Its flags (HENTITYKEEPONDEATH) are kept for the attach that fills it; a ham_entity on a name
// in use returns it, adding its flags only to a placeholder.
function placeholder(tx: Tx, { args }: Request): unknown {
  const ename = args.name("ename", "entity");
  if (isNodeEntityName(ename)) return nodeEntity(tx, ename, args.flags());
  const flags = checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  const existing = tx.entities.get(ename);
  if (existing === undefined) {
    const created = newEntity(ename, "placeholder", tx.at.wall);
    tx.put({ ...created, spec: { ...created.spec, flags } });
    tx.log(LOG_LEVEL.events, "info", { event: "placeholder", entity: ename }, `${ename} placeholder created`);
  } else if (existing.spec.kind === "placeholder" && (existing.spec.flags | flags) !== existing.spec.flags) {
    tx.spec(ename, { flags: existing.spec.flags | flags });
  }
  return { ename };
}

// ham_attach filling a placeholder: the placeholder's flags join the attach's own
// (ham_attach_self keeps them as it is).
function attachFilling(tx: Tx, request: Request): unknown {
  const before = tx.entities.get(request.args.name("ename", "entity"));
  const result = attach(tx, request);
  if (before?.spec.kind === "placeholder" && before.spec.flags !== 0) {
    const filled = tx.entity(before.name);
    if (filled !== undefined) tx.spec(before.name, { flags: filled.spec.flags | before.spec.flags });
  }
  return result;
}

function reportTarget(tx: Tx, args: Args): EntityState {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "conditions cannot be reported on the global entity");
  refuseNode(entity, "a reported state or raise");
  return entity;
}

function reportState(tx: Tx, { args }: Request): unknown {
  const entity = reportTarget(tx, args);
  const to = args.int("tostate");
  if (to < 0 || to > 0xffffffff) throw new HamError("EINVAL", "tostate must be an unsigned 32-bit value");
  const from = entity.counters.lastState;
  tx.counters(entity.name, { lastState: to });
  fire(tx, entity.name, { kind: "state", from, to });
  return 0;
}

function reportRaise(tx: Tx, { args }: Request): unknown {
  const entity = reportTarget(tx, args);
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise type, class and severity must be >= 0");
  const trigger = { kind: "raise", type, class: klass, severity } as const;
  fire(tx, entity.name, trigger);
  answerFault(tx, entity.name, trigger);
  return 0;
}

// Resolves 0 as ever (QNX-like); a fault policy that asks for a restart nothing would do is a
// warning in the activity log. A config file's is judged once the whole file is applied.
function setPolicy(tx: Tx, { args, viaConfig }: Request): unknown {
  const entity = entityOf(tx.state, args.entityName());
  if (entity.spec.kind === "global") throw new HamError("EINVAL", "the global entity has no restart policy");
  refuseNode(entity, "a restart policy");
  tx.spec(entity.name, { policy: readPolicy(args.raw("policy"), entity.spec.policy) });
  if (viaConfig === undefined) warnRestartless(tx, entity.name);
  return 0;
}

function verbose(tx: Tx, { args }: Request): unknown {
  const op = args.int("op");
  const value = args.int("value", 0);
  if (value < 0) throw new HamError("EINVAL", "verbosity value must be >= 0");
  const step = value === 0 ? 1 : value;
  const current = tx.meta.verbosity;
  let next: number;
  switch (op) {
    case VERBOSE_SET_INCR:
      next = current + step;
      break;
    case VERBOSE_SET_DECR:
      next = Math.max(0, current - step);
      break;
    case VERBOSE_SET:
      next = value;
      break;
    case VERBOSE_GET:
      return current;
    default:
      throw new HamError("EINVAL", `invalid verbosity operation ${op}`);
  }
  tx.setMeta({ verbosity: next });
  tx.emit({ kind: "verbosity", value: next });
  return 0;
}

export const REQUESTS: Readonly<Record<string, Handler>> = {
  attach: attachFilling, attach_self: attachSelf, detach, detach_self: detachSelf, entity: placeholder,
  entity_condition_state: reportState, entity_condition_raise: reportRaise, policy: setPolicy, probe: setProbe, probe_remove: removeProbe,
  condition: items.condition, condition_state: items.conditionState, condition_raise: items.conditionRaise,
  condition_remove: items.conditionRemove, action: items.action, action_remove: items.actionRemove,
  ready, action_fail: items.actionFail, action_fail_remove: items.actionFailRemove, control: items.control, lookup: items.lookup, verbose,
  group_create: groups.groupCreate, group_delete: groups.groupDelete, group_member_add: groups.groupMemberAdd,
  group_member_remove: groups.groupMemberRemove, group_switchover: groups.groupSwitchover, group_update: groups.groupUpdate,
  role_register: groups.roleRegister, role_ack: groups.roleAck,
  // hamctl start / stop NAME / delete NAME (beyond QNX): core/services.ts.
  service_start: (tx, request) => serviceStart(tx, request, (op, inner) => applyRequest(tx, op, inner)),
  service_stop: (tx, request) => serviceStop(tx, request, "stop"),
  service_delete: (tx, request) => serviceStop(tx, request, "delete"),
  ...CHECKPOINT_REQUESTS,
};

export function isCoreRequest(op: string): boolean {
  return Object.hasOwn(REQUESTS, op);
}

// Runs one request inside `tx`; throws HamError for bad input.
export function applyRequest(tx: Tx, op: string, request: Request): unknown {
  const handler = Object.hasOwn(REQUESTS, op) ? REQUESTS[op] : undefined;
  if (handler === undefined) throw new HamError("EINVAL", `unknown operation ${op}`);
  return handler(tx, request);
}
