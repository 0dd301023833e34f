import { CONDDEATH, HENTITYKEEPONDEATH, HREARMAFTERRESTART } from "../../lib/constants.js";
import { HamError } from "../../lib/errors.js";
import { LOG_LEVEL } from "./describe.js";
import { dropEntity } from "./episodes.js";
import type { PlannedRequest } from "./events.js";
import { servingNow } from "./groups/roles.js";
import { refuseNode } from "./nodes/node-entities.js";
import { Args, type Request } from "./specs.js";
import { entityOf, type EntityState, type ServiceStop } from "./state.js";
import type { Tx } from "./tx.js";

// A supervised service in one line (PM2's start / stop / delete, systemd's Restart=): the
// config file's `restart:` and `hamctl start`, `stop NAME`, `delete NAME`. Each hamctl command is
// one request, so one transition whose reply is written with its changes: a takeover in the
// middle never leaves half a service (an entity without its restart condition).

export const RESTART_MODES = ["always", "on-failure", "never"] as const;
export type RestartMode = (typeof RESTART_MODES)[number];

export function restartMode(value: string): RestartMode {
  const mode = RESTART_MODES.find((item) => item === value);
  if (mode === undefined) throw new HamError("EINVAL", `restart: must be always, on-failure or never, got ${JSON.stringify(value)}`);
  return mode;
}

// The condition `restart: MODE` makes (null: none), named so /ham shows what it fires on.
export function restartConditionName(mode: RestartMode): string | null {
  return mode === "always" ? "death" : mode === "on-failure" ? "failure" : null;
}

// The QNX tree `restart: MODE` stands for, as the long form writes it: a CONDDEATH condition
// holding a restart action, both HREARMAFTERRESTART (on-failure: the condition has failureOnly,
// so a clean exit does not fire it). `never` makes nothing.
export function restartTree(ename: string, line: string, mode: RestartMode): PlannedRequest[] {
  const cname = restartConditionName(mode);
  if (cname === null) return [];
  return [
    { op: "condition", args: { ename, cname, type: CONDDEATH, flags: HREARMAFTERRESTART, ...(mode === "on-failure" ? { failureOnly: true } : {}) } },
    { op: "action", args: { ename, cname, aname: "restart", kind: "restart", line, flags: HREARMAFTERRESTART } },
  ];
}

type Run = (op: string, request: Request) => unknown;

// `hamctl start NAME [--restart MODE] -- CMD ARGS...`: ham_attach of CMD and its restart tree.
// Without a command: a stopped entity (or one dead and kept) is started again.
export function serviceStart(tx: Tx, request: Request, run: Run): unknown {
  const { args } = request;
  const ename = args.name("ename", "entity");
  const line = args.optionalString("line");
  if (line === null) return startAgain(tx, request, ename, run);
  const mode = restartMode(args.optionalString("restart") ?? "always");
  const existing = tx.entities.get(ename);
  if (existing !== undefined && existing.spec.kind !== "placeholder") {
    throw new HamError("EEXIST", `entity ${ename} exists (hamctl start ${ename} starts it again with its own command; hamctl delete ${ename} first to give it another)`);
  }
  // Kept when it ends unrestarted (on-failure, never, a spent budget): listed, startable again.
  const result = run("attach", { ...request, args: new Args({ ename, pid: -1, line, flags: HENTITYKEEPONDEATH }) });
  for (const planned of restartTree(ename, line, mode)) run(planned.op, { ...request, replyTo: null, args: new Args(planned.args) });
  return result;
}

function startAgain(tx: Tx, request: Request, ename: string, run: Run): unknown {
  const entity = entityOf(tx.state, ename);
  refuseService(entity, "started");
  if (request.args.has("restart")) throw new HamError("EINVAL", `restart: is given with a command only (${ename} keeps its conditions)`);
  if (entity.spec.stop !== undefined && entity.run.pid > 0) throw new HamError("EBUSY", `${ename} is stopping: start it once its process has ended`);
  // Running, or a death being handled (its restart under way): nothing to do, as systemctl start.
  if (entity.run.pid > 0 || entity.run.episode !== null || entity.run.spawnToken !== null) return 0;
  const command = entity.spec.command;
  if (command === null) throw new HamError("EINVAL", `${ename} has no command to start (it was attached by pid or attached itself)`);
  const { stop: _stop, ...spec } = entity.spec;
  tx.put({ ...entity, spec: { ...spec, enabled: true } });
  // ham_attach filling the dead entity: the same spawn, reply and takeover path.
  return run("attach", { ...request, args: new Args({ ename, pid: -1, line: command, flags: entity.spec.flags }) });
}

// `hamctl stop NAME` and `hamctl delete NAME`: the entity is disabled (ham_entity_control
// HDISABLE: no condition of it fires, so its death restarts nothing and it is kept) and its
// process ended (SIGTERM, SIGKILL after the grace); a deleted one is removed once it has no
// process. The mark is in the shared state: a HAM that takes over ends the process again.
export function serviceStop(tx: Tx, { args }: Request, how: ServiceStop): unknown {
  const entity = entityOf(tx.state, args.name("ename", "entity"));
  refuseService(entity, how === "stop" ? "stopped" : "deleted");
  if (how === "stop" && entity.spec.kind === "placeholder") throw new HamError("EINVAL", `${entity.name} is a placeholder: it has no process to stop`);
  if (servingNow(tx, entity.name)) throw new HamError("EBUSY", `${entity.name} serves its group: switch it over (or remove it from the group) first`);
  const stop = entity.spec.stop === "delete" ? "delete" : how;
  tx.spec(entity.name, { enabled: false, stop });
  const { pid, startTime } = entity.run;
  if (pid > 0) {
    tx.log(LOG_LEVEL.events, "info", { event: how, entity: entity.name, pid }, `${entity.name}: ${how === "stop" ? "stopping" : "deleting"} (pid ${pid} is ended, not restarted)`);
    tx.emit({ kind: "terminate", pid, startTime });
  } else if (stop === "delete") {
    dropEntity(tx, entity.name);
    tx.log(LOG_LEVEL.events, "info", { event: "deleted", entity: entity.name }, `${entity.name} deleted`);
  } else {
    tx.log(LOG_LEVEL.events, "info", { event: "stop", entity: entity.name }, `${entity.name} stopped`);
  }
  return 0;
}

function refuseService(entity: EntityState, what: string): void {
  if (entity.spec.kind === "global") throw new HamError("EINVAL", `the global entity cannot be ${what}`);
  refuseNode(entity, `a service that is ${what}`);
}
