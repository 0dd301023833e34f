import { HamError } from "../../lib/errors.js";
import { checkName } from "../../lib/names.js";
import { LOG_LEVEL } from "./describe.js";
import { START_READINESS, type EntityState, type Readiness } from "./state.js";
import type { Tx } from "./tx.js";

// Readiness and start order (issue 18; s6-rc, systemd After=/Requires=). An entity is ready when
// its process runs (readiness "start", as ever) or, for readiness "notify", once that process
// says so: a newline on its notification fd, ham_ready(), or a readiness probe; each of them ends
// in `entityReady`. An entity that `requires` others is started only once all of them are ready;
// until then it waits (run.waiting), started by the event that makes its last requirement ready.
// A death clears `ready`: a restarted process is not ready until it says so again. A dependent
// that runs is left alone when a requirement dies (s6-rc's default, and systemd's Requires= on a
// crash): ordering holds starts, it never stops anything.

export function isReady(entity: EntityState): boolean {
  return entity.run.pid > 0 && (entity.spec.readiness.mode === "start" || entity.run.ready);
}

// The entities `entity` requires that are not ready (a name the HAM does not hold is not ready).
export function unmetRequirements(tx: Pick<Tx, "entity">, entity: EntityState): string[] {
  return entity.spec.readiness.requires.filter((name) => {
    const required = tx.entity(name);
    return required === undefined || name === "" || !isReady(required);
  });
}

// The `readiness` argument of an attach (a config file's entity): checked here, as any request's.
export function readReadiness(raw: unknown): Readiness {
  if (raw === undefined || raw === null) return START_READINESS;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new HamError("EINVAL", "readiness must be an object");
  const { mode, notifyFd, requires } = raw as Record<string, unknown>;
  if (mode !== "start" && mode !== "notify") throw new HamError("EINVAL", "readiness.mode must be \"start\" or \"notify\"");
  if (notifyFd !== null && (typeof notifyFd !== "number" || !Number.isInteger(notifyFd) || notifyFd < 3 || notifyFd > 255)) {
    throw new HamError("EINVAL", "notifyFd must be an integer from 3 to 255 (0-2 are stdin, stdout and stderr)");
  }
  if (notifyFd !== null && mode !== "notify") throw new HamError("EINVAL", "notifyFd makes the entity's readiness \"notify\"");
  if (!Array.isArray(requires)) throw new HamError("EINVAL", "requires must be a list of entity names");
  const names = requires.map((name) => checkName(name, "entity"));
  if (new Set(names).size !== names.length) throw new HamError("EINVAL", "requires names an entity twice");
  return Object.freeze({ mode, notifyFd, requires: Object.freeze(names) });
}

// The spawn effect's part: a notification fd, when the entity has one.
export function notifyOf(tx: Pick<Tx, "entity">, name: string): { notifyFd?: number } {
  const fd = tx.entity(name)?.spec.readiness.notifyFd ?? null;
  return fd === null ? {} : { notifyFd: fd };
}

// Whether `name`'s start is held for its requirements (then it waits, and nothing is spawned).
export function holdStart(tx: Tx, name: string): boolean {
  const entity = tx.entity(name);
  if (entity === undefined) return false;
  const unmet = unmetRequirements(tx, entity);
  if (unmet.length === 0) return false;
  tx.run(name, { waiting: true, spawnToken: null });
  tx.log(LOG_LEVEL.events, "info", { event: "waiting", entity: name, requires: unmet }, `${name} waits for ${unmet.join(", ")} to be ready`);
  return true;
}

// `name`'s process says it is ready (`pid`: the process that said so; null: a probe, about the
// process running now). False when that changes nothing (already ready, or not its process).
export function entityReady(tx: Tx, name: string, pid: number | null, how: string): boolean {
  const entity = tx.entity(name);
  if (entity === undefined || name === "" || entity.run.pid <= 0 || (pid !== null && pid !== entity.run.pid)) return false;
  if (isReady(entity)) return false;
  tx.run(name, { ready: true });
  tx.log(LOG_LEVEL.events, "info", { event: "ready", entity: name, pid: entity.run.pid, how }, `${name} (pid ${entity.run.pid}) is ready (${how})`);
  startWaiting(tx, name);
  return true;
}

// Starts the waiting entities whose requirements are all ready now: those requiring `readied`
// (an entity that just became ready), or every one (null: after an apply or a takeover). It
// looks only at the waiting ones (Meta.waiting, kept by tx.ts): a scan of every entity at each
// start or notification cost 1-4 ms with 1,000 entities on this (loaded) machine.
export function startWaiting(tx: Tx, readied: string | null): void {
  if (tx.meta.waiting === undefined || tx.meta.waiting.size === 0) return;
  if (readied !== null) {
    const entity = tx.entity(readied);
    if (entity === undefined || !isReady(entity)) return;
  }
  for (const name of [...tx.meta.waiting]) {
    const entity = tx.entity(name);
    if (entity === undefined || !entity.run.waiting || (readied !== null && !entity.spec.readiness.requires.includes(readied))) continue;
    if (entity.run.pid !== 0 || unmetRequirements(tx, entity).length > 0) continue;
    startHeld(tx, entity);
  }
}

function startHeld(tx: Tx, entity: EntityState): void {
  const name = entity.name;
  const line = entity.spec.command;
  if (line === null) {
    tx.run(name, { waiting: false });
    return;
  }
  const token = tx.nextSpawnToken(name);
  tx.run(name, { waiting: false, spawnToken: token });
  tx.log(LOG_LEVEL.events, "info", { event: "requirements-ready", entity: name, requires: entity.spec.readiness.requires },
    `${name}: ${entity.spec.readiness.requires.join(", ")} ready; starting it`);
  // Its token is written before the spawn: a HAM that takes over finds the process, or starts it.
  tx.emit({ kind: "persist-now" });
  tx.emit({ kind: "spawn", entity: name, line, token, cause: { kind: "config", source: "its requirements" }, ...notifyOf(tx, name) });
}
