import { HamError } from "../errors.js";
import type { RestartPolicy } from "../tree/types.js";
import { checkName } from "../names.js";
import { startBeating, stopBeating } from "./beating.js";
import {
  checkHandle, placeOfNd, requestAuto, requestConnected, type ham_entity_t,
} from "./handles.js";
import { existingSession, placeOfNode, releaseIfUnused, sessionFor, type Place } from "./session.js";

// Entities: attach, detach, placeholders, state and raise reports, restart policy.

function entityHandle(place: Place, ename: string | null): ham_entity_t {
  return { kind: "entity", runDir: place.runDir, node: place.node, ename, freed: false };
}

function toNumber(value: number | bigint, what: string): number {
  const number = typeof value === "bigint" ? Number(value) : value;
  if (!Number.isSafeInteger(number)) throw new HamError("EINVAL", `${what} must be an integer`);
  return number;
}

export async function ham_attach_self(
  ename: string, hp: number | bigint, hpdl: number, hpdh: number, flags = 0,
): Promise<ham_entity_t> {
  checkName(ename, "entity");
  const place = placeOfNode(null);
  const session = await sessionFor(place.runDir);
  session.holds += 1;
  try {
    await session.request("attach_self", { ename, hp: toNumber(hp, "hp"), hpdl, hpdh, flags });
  } catch (error) {
    session.holds -= 1;
    releaseIfUnused(session);
    throw error;
  }
  const handle = entityHandle(place, ename);
  startBeating(session, handle);
  return handle;
}

export async function ham_detach_self(ehdl: ham_entity_t, flags = 0): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  if (handle.node !== null) throw new HamError("EINVAL", `ham_detach_self is about the calling process: not for an entity of node ${handle.node}`);
  const session = existingSession(handle.runDir);
  if (session === undefined) throw new HamError("EBADF", "not connected to the HAM");
  await session.request("detach_self", { ename: handle.ename, flags });
  stopBeating(session, handle);
  session.holds -= 1;
  releaseIfUnused(session);
  return 0;
}

async function attach(place: Place, ename: string, pid: number, line: string | null, flags: number): Promise<ham_entity_t> {
  checkName(ename, "entity");
  if (pid <= 0 && (line === null || line === "")) throw new HamError("EINVAL", "ham_attach needs a pid > 0 or a command line");
  await requestAuto(place, "attach", { ename, pid, line: pid > 0 ? null : line, flags });
  return entityHandle(place, ename);
}

export function ham_attach(ename: string, nd: number, pid: number, line: string | null, flags = 0): Promise<ham_entity_t> {
  return Promise.resolve().then(() => attach(placeOfNd(nd), ename, pid, line, flags));
}

export function ham_attach_node(ename: string, nodename: string | null, pid: number, line: string | null, flags = 0): Promise<ham_entity_t> {
  return Promise.resolve().then(() => attach(placeOfNode(nodename), ename, pid, line, flags));
}

export async function ham_detach(ehdl: ham_entity_t, flags = 0): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestAuto(handle, "detach", { ename: handle.ename, flags }));
}

export async function ham_detach_name(nd: number, ename: string, flags = 0): Promise<number> {
  checkName(ename, "entity");
  return Number(await requestAuto(placeOfNd(nd), "detach", { ename, flags }));
}

export async function ham_detach_name_node(nodename: string | null, ename: string, flags = 0): Promise<number> {
  checkName(ename, "entity");
  return Number(await requestAuto(placeOfNode(nodename), "detach", { ename, flags }));
}

export async function ham_entity(ename: string, nd: number, flags = 0): Promise<ham_entity_t> {
  checkName(ename, "entity");
  const place = placeOfNd(nd);
  await requestAuto(place, "entity", { ename, flags });
  return entityHandle(place, ename);
}

export async function ham_entity_node(ename: string, nodename: string | null, flags = 0): Promise<ham_entity_t> {
  checkName(ename, "entity");
  const place = placeOfNode(nodename);
  await requestAuto(place, "entity", { ename, flags });
  return entityHandle(place, ename);
}

export async function ham_entity_condition_state(ehdl: ham_entity_t, tostate: number, flags = 0): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestConnected(handle, "entity_condition_state", { ename: handle.ename, tostate, flags }));
}

export async function ham_entity_condition_raise(
  ehdl: ham_entity_t, rtype: number, rclass: number, rseverity: number, flags = 0,
): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestConnected(handle, "entity_condition_raise", { ename: handle.ename, rtype, rclass, rseverity, flags }));
}

// The fields of a restart policy to change (the others keep their values).
export type RestartPolicyOptions = Partial<RestartPolicy>;

// Beyond QNX: the restart-storm policy of one entity (see README, "Restart storms").
export async function ham_entity_policy(ehdl: ham_entity_t, policy: RestartPolicyOptions): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestConnected(handle, "policy", { ename: handle.ename, policy }));
}

// Beyond QNX: a health probe of the entity (see README, "Health probes"): adds it, or replaces
// the entity's probe of the same name (`name`, default the kind). EINVAL for a bad spec.
export type ProbeOptions =
  & { name?: string; use?: "liveness" | "readiness"; intervalMs?: number; timeoutMs?: number; startGraceMs?: number; failureThreshold?: number; successThreshold?: number }
  & ({ kind: "exec"; command: string } | { kind: "http"; url: string; bodyContains?: string; bodyMatches?: string } | { kind: "tcp"; host?: string; port: number });

export async function ham_entity_probe(ehdl: ham_entity_t, spec: ProbeOptions): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestConnected(handle, "probe", { ename: handle.ename, probe: spec }));
}

// Beyond QNX: removes the entity's probe `name` (ENOENT if it has none of that name).
export async function ham_entity_probe_remove(ehdl: ham_entity_t, name: string): Promise<number> {
  const handle = checkHandle(ehdl, "entity");
  return Number(await requestConnected(handle, "probe_remove", { ename: handle.ename, probe: name }));
}

export async function ham_entity_handle(nd: number, ename: string | null, flags = 0): Promise<ham_entity_t> {
  return entityLookup(placeOfNd(nd), ename, flags);
}

export async function ham_entity_handle_node(nodename: string | null, ename: string | null, flags = 0): Promise<ham_entity_t> {
  return entityLookup(placeOfNode(nodename), ename, flags);
}

async function entityLookup(place: Place, ename: string | null, flags: number): Promise<ham_entity_t> {
  if (ename !== null) checkName(ename, "entity");
  if (flags !== 0) throw new HamError("EINVAL", "no flags are defined for handle lookups");
  await requestConnected(place, "lookup", { ename });
  return entityHandle(place, ename);
}

export async function ham_entity_handle_free(ehdl: ham_entity_t): Promise<number> {
  checkHandle(ehdl, "entity").freed = true;
  return 0;
}

// ham_ready() (beyond QNX; s6's notification fd, systemd's sd_notify READY=1): the calling
// process says its entity is ready, and what requires it may start. `ename` defaults to
// HAM_ENTITY, which the HAM puts in the environment of every process it starts. Only the
// entity's own process may say so (EPERM otherwise); an entity whose readiness is "start" is
// ready already (0, nothing changes). Made once, even when sent again after a takeover.
export async function ham_ready(ename: string | null = null): Promise<number> {
  const name = ename ?? process.env["HAM_ENTITY"] ?? "";
  if (name === "") throw new HamError("EINVAL", "ham_ready: no entity named, and no HAM_ENTITY in the environment (a process the HAM did not start)");
  checkName(name, "entity");
  await requestAuto(placeOfNode(null), "ready", { ename: name });
  return 0;
}
