import { ENTITY_FLAGS, HAMHBEATMIN } from "../lib/constants.js";
import { splitCommandLine } from "../lib/command-line.js";
import { HamError } from "../lib/errors.js";
import type { Entity, RestartPolicy } from "../lib/tree/types.js";
import { LOG_LEVEL } from "./activity-log.js";
import type { ClientState } from "./clients.js";
import type { HamContext } from "./context.js";
import { failPoint } from "./fail-point.js";
import { readStartTime } from "./processes.js";
import { checkFlags, type Args } from "./request-args.js";

// ham_attach, ham_attach_self, ham_detach*, ham_entity, state and raise reports, policies.

// A name may be reused when it is a placeholder or a dead entity kept by HENTITYKEEPONDEATH.
function fillable(ham: HamContext, entity: Entity): boolean {
  return entity.kind === "placeholder" || (entity.pid === 0 && !ham.monitor.isRecovering(entity));
}

export function attach(ham: HamContext, args: Args): { ename: string } {
  const ename = args.name("ename", "entity");
  const pid = args.int("pid", -1);
  const line = args.optionalString("line");
  const flags = checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  if (pid <= 0 && line === null) throw new HamError("EINVAL", "ham_attach needs a pid > 0 or a command line");
  if (pid <= 0 && line !== null) splitCommandLine(line);
  const existing = ham.tree.entities.get(ename);
  if (existing !== undefined && !fillable(ham, existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  const startTime = pid > 0 ? readStartTime(pid) : null;
  if (pid > 0 && startTime === null) throw new HamError("ESRCH", `no process ${pid}`);
  const entity = existing ?? ham.tree.newEntity(ename, "attached");
  const wasPlaceholder = existing !== undefined;
  entity.kind = "attached";
  entity.flags = flags;
  entity.command = pid > 0 ? null : line;
  entity.gaveUp = false;
  if (existing === undefined) ham.tree.add(entity);
  try {
    if (pid > 0) ham.monitor.watchPid(entity, pid, startTime);
    else {
      ham.monitor.spawn(entity, line ?? "");
      failPoint("after-attach-spawn", ename);
    }
  } catch (error) {
    if (existing === undefined) ham.tree.remove(entity);
    throw error;
  }
  ham.log.write(LOG_LEVEL.events, "info", { event: "attach", entity: ename, pid: entity.pid }, `${ename} attached (pid ${entity.pid})`);
  if (wasPlaceholder) ham.monitor.fire(entity, { kind: "attach" });
  return { ename };
}

export function attachSelf(ham: HamContext, client: ClientState, args: Args): { ename: string } {
  const ename = args.name("ename", "entity");
  const hp = args.int("hp", 0);
  const low = args.int("hpdl", 0);
  const high = args.int("hpdh", 0);
  checkFlags(args.flags(), 0, "ham_attach_self");
  if (client.pid <= 0) throw new HamError("EINVAL", "no hello received: unknown caller pid");
  if (hp < 0 || (hp > 0 && hp < HAMHBEATMIN)) throw new HamError("EINVAL", `heartbeat period must be 0 or >= ${HAMHBEATMIN} ns`);
  if (low < 0 || high < 0) throw new HamError("EINVAL", "heartbeat thresholds must be >= 0");
  if (low > 0 && high > 0 && low > high) throw new HamError("EINVAL", "hpdl must be <= hpdh");
  const existing = ham.tree.entities.get(ename);
  // A process the HAM started (or attached by pid) may declare itself: same pid, same entity.
  const rebinding = existing !== undefined && existing.pid === client.pid && existing.kind !== "placeholder";
  if (existing !== undefined && !rebinding && !fillable(ham, existing)) throw new HamError("EEXIST", `entity ${ename} exists`);
  const entity = existing ?? ham.tree.newEntity(ename, "self");
  const fired = existing !== undefined && !rebinding;
  if (existing === undefined) ham.tree.add(entity);
  if (!rebinding) {
    ham.tree.setPid(entity, client.pid);
    entity.startTime = readStartTime(client.pid);
    entity.ownChild = false;
    entity.startedMs = Date.now();
  }
  entity.kind = "self";
  entity.gaveUp = false;
  entity.heartbeat = hp === 0 ? null : {
    periodNs: hp, low, high, state: "HEALTHY", beatInPeriod: false, consecutiveMisses: 0, lastBeatMs: null,
  };
  client.selfEntities.add(entity);
  entity.clientToken = client.token;
  ham.monitor.heartbeats.arm(entity);
  ham.log.write(LOG_LEVEL.events, "info", { event: "attach-self", entity: ename, pid: client.pid }, `${ename} self-attached (pid ${client.pid})`);
  if (fired) ham.monitor.fire(entity, { kind: "attach" });
  return { ename };
}

function removeEntity(ham: HamContext, entity: Entity, how: string): void {
  ham.monitor.unwatch(entity);
  ham.tree.remove(entity);
  for (const client of ham.clientsOf(entity)) client.selfEntities.delete(entity);
  ham.log.write(LOG_LEVEL.events, "info", { event: "detach", entity: entity.name, pid: entity.pid }, `${entity.name} detached (${how})`);
  ham.monitor.fire(entity, { kind: "detach" });
}

export function detach(ham: HamContext, args: Args): number {
  const entity = ham.tree.entity(args.entityName());
  if (entity.kind === "global") throw new HamError("EINVAL", "the global entity cannot be detached");
  if (entity.kind === "self") throw new HamError("EINVAL", `${entity.name} is self-attached: use ham_detach_self`);
  removeEntity(ham, entity, "ham_detach");
  return 0;
}

export function detachSelf(ham: HamContext, client: ClientState, args: Args): number {
  const entity = ham.tree.entity(args.entityName());
  if (entity.kind !== "self") throw new HamError("EINVAL", `${entity.name} is not self-attached`);
  if (entity.pid !== client.pid) throw new HamError("EINVAL", `${entity.name} was not attached by the caller`);
  removeEntity(ham, entity, "ham_detach_self");
  return 0;
}

export function placeholder(ham: HamContext, args: Args): { ename: string } {
  const ename = args.name("ename", "entity");
  checkFlags(args.flags(), ENTITY_FLAGS, "entity");
  if (!ham.tree.entities.has(ename)) {
    ham.tree.add(ham.tree.newEntity(ename, "placeholder"));
    ham.log.write(LOG_LEVEL.events, "info", { event: "placeholder", entity: ename }, `${ename} placeholder created`);
  }
  return { ename };
}

function reportTarget(ham: HamContext, args: Args): Entity {
  const entity = ham.tree.entity(args.entityName());
  if (entity.kind === "global") throw new HamError("EINVAL", "conditions cannot be reported on the global entity");
  return entity;
}

export function reportState(ham: HamContext, args: Args): number {
  const entity = reportTarget(ham, args);
  const to = args.int("tostate");
  if (to < 0 || to > 0xffffffff) throw new HamError("EINVAL", "tostate must be an unsigned 32-bit value");
  const from = entity.lastState;
  entity.lastState = to;
  ham.monitor.fire(entity, { kind: "state", from, to });
  return 0;
}

export function reportRaise(ham: HamContext, args: Args): number {
  const entity = reportTarget(ham, args);
  const [type, klass, severity] = [args.int("rtype"), args.int("rclass"), args.int("rseverity")];
  if (type < 0 || klass < 0 || severity < 0) throw new HamError("EINVAL", "raise type, class and severity must be >= 0");
  ham.monitor.fire(entity, { kind: "raise", type, class: klass, severity });
  return 0;
}

export function readPolicy(raw: unknown, base: RestartPolicy): RestartPolicy {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new HamError("EINVAL", "policy must be an object");
  const record = raw as Record<string, unknown>;
  const ms = (field: keyof RestartPolicy, fallback: number): number => {
    const value = record[field];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new HamError("EINVAL", `policy.${field} must be an integer >= 0`);
    return value;
  };
  let budget = base.budget;
  if (record["budget"] === null) budget = null;
  else if (record["budget"] !== undefined) {
    const b = record["budget"] as Record<string, unknown>;
    const restarts = b["restarts"];
    const windowMs = b["windowMs"];
    if (typeof restarts !== "number" || !Number.isSafeInteger(restarts) || restarts < 1 ||
      typeof windowMs !== "number" || !Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new HamError("EINVAL", "policy.budget needs integer restarts >= 1 and windowMs >= 1");
    }
    budget = { restarts, windowMs };
  }
  const known = new Set(["minUptimeMs", "backoffInitialMs", "backoffMaxMs", "backoffResetMs", "budget"]);
  for (const key of Object.keys(record)) if (!known.has(key)) throw new HamError("EINVAL", `unknown policy field ${key}`);
  return {
    minUptimeMs: ms("minUptimeMs", base.minUptimeMs),
    backoffInitialMs: ms("backoffInitialMs", base.backoffInitialMs),
    backoffMaxMs: ms("backoffMaxMs", base.backoffMaxMs),
    backoffResetMs: ms("backoffResetMs", base.backoffResetMs),
    budget,
  };
}

export function setPolicy(ham: HamContext, args: Args): number {
  const entity = ham.tree.entity(args.entityName());
  if (entity.kind === "global") throw new HamError("EINVAL", "the global entity has no restart policy");
  entity.policy = readPolicy(args.raw("policy"), entity.policy);
  return 0;
}
