import { isGroupConditionType } from "../../lib/tree/conditions.js";
import { createHash } from "node:crypto";
import * as Q from "../../lib/constants.js";
import { HamError, type HamErrorCode } from "../../lib/errors.js";
import { checkName } from "../../lib/names.js";
import { readActionSpec, readFailSpec, readPolicy, Args } from "../core/specs.js";
import { readProbeSpec } from "../core/probe-spec.js";
import { DEFAULTS } from "../daemon/defaults.js";
import { checkConfigShape, type ConfigCondition, type ConfigEntity, type ConfigFile, type ConfigFlags } from "../core/schema.js";
import type { ConfigPlan, PlannedEntity, PlannedRequest, ProgramLine } from "../core/events.js";
import { formatOf, readConfigText, type ConfigText } from "./config-text.js";
import { describeCycle, findCycle } from "../core/start-order.js";
import { restartConditionName, restartTree } from "../core/services.js";

// The declarative config file (JSON or YAML, config-text.ts): checked whole before anything is
// applied, every error naming the line, and the field (meaning) at fault. Its structure is checked
// by schema/ham-config.schema.json (spec-schema.ts); this adds names, duplicates and the
// handlers' rules. The result is a list of requests per entity, sent through the same
// handlers as the API.

// The plan's shapes are the core's (the apply transition takes them): core/events.ts.
export type { ConfigPlan, PlannedEntity, PlannedRequest } from "../core/events.js";

const NAMED: Readonly<Record<string, number>> = Q as unknown as Record<string, number>;

function configError(field: string, message: string): HamError {
  return new HamError("EINVAL", `${field}: ${message}`);
}

function constant(value: number | string, field: string): number {
  if (typeof value === "number") return value;
  const named = NAMED[value];
  if (typeof named === "number") return named;
  throw configError(field, `must be a number or a QNX constant name, got ${JSON.stringify(value)}`);
}

function flags(value: ConfigFlags | undefined, field: string): number {
  if (value === undefined) return 0;
  if (typeof value === "object") return value.reduce<number>((all, item, index) => all | constant(item, `${field}[${index}]`), 0);
  return constant(value, field);
}

function withoutCode(error: HamError): string {
  return error.message.replace(/^[A-Z]+: /, "");
}

function checked<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof HamError) throw configError(field, withoutCode(error));
    throw error;
  }
}

// An action spec's errors start with their field ("line: ..."): joined to the action's path.
function checkedSpec(field: string, read: () => unknown): void {
  try {
    read();
  } catch (error) {
    if (error instanceof HamError) throw new HamError("EINVAL", `${field}.${withoutCode(error)}`);
    throw error;
  }
}

export interface ConfigRead {
  readonly plan: ConfigPlan;
  // An error about `field` (`entities[1].command`), naming its line in the file.
  fieldError(code: HamErrorCode, field: string, message: string): HamError;
}

// A file's errors start with their field (`entities[0].name: ...`, config-file.ts and
// schema.ts); the line is put before it.
function located(file: ConfigText, error: HamError): HamError {
  const message = withoutCode(error);
  const line = file.lineOf(/^[^\s:]+/.exec(message)?.[0] ?? "");
  return line === null ? error : new HamError(error.code, `line ${line}: ${message}`);
}

// `source` is the file's path or name: .yaml and .yml are YAML, anything else JSON.
export function readConfig(text: string, source: string): ConfigRead {
  const file = readConfigText(text, formatOf(source));
  try {
    return { plan: planConfig(file.value), fieldError: (code, field, message) => located(file, new HamError(code, `${field}: ${message}`)) };
  } catch (error) {
    throw error instanceof HamError ? located(file, error) : error;
  }
}

export function parseConfig(text: string, source = "config.json"): ConfigPlan {
  return readConfig(text, source).plan;
}

function planConfig(raw: unknown): ConfigPlan {
  checkConfigShape(raw);
  const seen = new Set<string>();
  const entities = (raw.entities ?? []).map((item, index) => {
    const planned = planEntity(item, `entities[${index}]`);
    if (seen.has(planned.name)) throw configError(`entities[${index}].name`, `duplicate entity ${planned.name}`);
    seen.add(planned.name);
    return planned;
  });
  // A cycle within the file, named with its first entity's field (the apply checks the HAM's too).
  const cycle = findCycle(new Map((raw.entities ?? []).map((item) => [item.name, item.requires ?? []])));
  if (cycle !== null) {
    const index = (raw.entities ?? []).findIndex((item) => item.name === cycle[0]);
    throw configError(`entities[${index}].requires`, `a cycle: ${describeCycle(cycle)}`);
  }
  (raw.nodes ?? []).forEach((item, index) => {
    const planned = planNode(item, `nodes[${index}]`);
    if (seen.has(planned.name)) throw configError(`nodes[${index}].name`, `duplicate node ${item.name}`);
    seen.add(planned.name);
    entities.push(planned);
  });
  const globalPrograms: ProgramLine[] = [];
  const global = planConditions(null, raw.global?.conditions ?? [], "global.conditions", null, globalPrograms);
  const groupNames = new Set<string>();
  const groups = (raw.groups ?? []).map((group, index) => {
    if (groupNames.has(group.name)) throw configError(`groups[${index}].name`, `duplicate group ${group.name}`);
    groupNames.add(group.name);
    return { op: "group_create", args: { gname: group.name, model: group.model, members: group.members, ackTimeoutMs: group.ackTimeoutMs, faults: group.faults } };
  });
  return { entities, global, globalPrograms, groups };
}

function planEntity(section: ConfigEntity, field: string): PlannedEntity {
  const name = checked(`${field}.name`, () => checkName(section.name, "entity"));
  // The short form keeps a service that ended listed (ps: dead), as systemd and PM2 do.
  const entityFlags = flags(section.flags, `${field}.flags`) | (section.restart === undefined ? 0 : Q.HENTITYKEEPONDEATH);
  const { command, pid } = section;
  // The schema checked that one of the three is there.
  let create: PlannedRequest;
  if (command !== undefined) create = { op: "attach", args: { ename: name, pid: -1, line: command, flags: entityFlags } };
  else if (pid !== undefined) create = { op: "attach", args: { ename: name, pid, flags: entityFlags } };
  else create = { op: "entity", args: { ename: name, flags: entityFlags } };
  const readiness = planReadiness(section, field);
  if (readiness !== null) create.args["readiness"] = readiness;
  const setup: PlannedRequest[] = [];
  const programs: ProgramLine[] = command === undefined ? [] : [{ field: `${field}.command`, line: command }];
  if (section.policy !== undefined) {
    checked(`${field}.policy`, () => readPolicy(section.policy, DEFAULTS.restartPolicy));
    setup.push({ op: "policy", args: { ename: name, policy: section.policy } });
  }
  setup.push(...planRestart(section, name, field));
  const probeNames = new Set<string>();
  (section.probes ?? []).forEach((probe, index) => {
    const at = `${field}.probes[${index}]`;
    const spec = checked(at, () => readProbeSpec(probe));
    if (probeNames.has(spec.name)) throw configError(`${at}.name`, `duplicate probe ${spec.name} (give each probe of a kind a name)`);
    probeNames.add(spec.name);
    if (spec.kind === "exec") programs.push({ field: `${at}.command`, line: spec.command });
    setup.push({ op: "probe", args: { ename: name, probe } });
  });
  setup.push(...planConditions(name, section.conditions ?? [], `${field}.conditions`, command ?? null, programs));
  // A digest, not the text: the fingerprints are in the shared state's HAM-wide record.
  return { name, fingerprint: createHash("sha256").update(JSON.stringify(section)).digest("base64url").slice(0, 22), create, setup, programs };
}

// `readiness`, `notifyFd` and `requires` as the attach's `readiness` argument (null: none of them).
function planReadiness(section: ConfigEntity, field: string): Record<string, unknown> | null {
  const { readiness, notifyFd, requires } = section;
  // A readiness probe makes the entity ready when it passes: `notify` unless said otherwise.
  const probed = (section.probes ?? []).some((probe) => typeof probe === "object" && probe !== null && (probe as { use?: unknown }).use === "readiness");
  if (readiness === undefined && notifyFd === undefined && requires === undefined && !probed) return null;
  const present = requires !== undefined ? "requires" : notifyFd !== undefined ? "notifyFd" : "readiness";
  if (section.command === undefined) throw configError(`${field}.${present}`, "needs \"command\": only a process the HAM starts can wait or say it is ready");
  if (notifyFd !== undefined && readiness === "start") throw configError(`${field}.readiness`, "an entity with a notifyFd is ready when it says so: \"notify\" (or leave it out)");
  (requires ?? []).forEach((name, index) => checked(`${field}.requires[${index}]`, () => checkName(name, "entity")));
  if (new Set(requires).size !== (requires ?? []).length) throw configError(`${field}.requires`, "names an entity twice");
  return { mode: readiness ?? (notifyFd === undefined && !probed ? "start" : "notify"), notifyFd: notifyFd ?? null, requires: requires ?? [] };
}

// `restart: MODE` (core/services.ts): the tree the long form makes, before the file's own
// conditions (nothing of theirs runs before the restart). Both may be given; not two restarts.
function planRestart(section: ConfigEntity, name: string, field: string): PlannedRequest[] {
  if (section.restart === undefined) return [];
  const at = `${field}.restart`;
  const conditions = section.conditions ?? [];
  const restartAt = conditions.findIndex((condition) => (condition.actions ?? []).some((action) => action.kind === "restart"));
  if (restartAt >= 0) throw configError(at, `${name} has a restart action in conditions[${restartAt}] already: give restart: or that action, not both`);
  const cname = restartConditionName(section.restart);
  const clash = conditions.findIndex((condition) => condition.name === cname);
  if (clash >= 0) throw configError(`${field}.conditions[${clash}].name`, `${cname} is the condition restart: ${section.restart} makes for ${name}: name it otherwise`);
  if (section.command === undefined && cname !== null) throw configError(at, `${name} has no command to restart: restart: needs "command"`);
  return restartTree(name, section.command ?? "", section.restart);
}

// A node entity (@NAME, core/nodes/): made by ham_entity, its conditions as an entity's; no
// restart or healthy action (a node has no process), said here with the field.
function planNode(section: NonNullable<ConfigFile["nodes"]>[number], field: string): PlannedEntity {
  const name = `@${section.name}`;
  const programs: ProgramLine[] = [];
  (section.conditions ?? []).forEach((condition, index) => (condition.actions ?? []).forEach((action, actionIndex) => {
    if (action.kind === "restart" || action.kind === "healthy") {
      throw configError(`${field}.conditions[${index}].actions[${actionIndex}].kind`, `a ${action.kind} action makes no sense for a node (execute, notify, log and waitfor do)`);
    }
  }));
  const setup = planConditions(name, section.conditions ?? [], `${field}.conditions`, null, programs);
  return { name, fingerprint: createHash("sha256").update(JSON.stringify(section)).digest("base64url").slice(0, 22), create: { op: "entity", args: { ename: name, flags: 0 } }, setup, programs };
}

// `programs` gets the restart lines of their own and the execute lines.
function planConditions(
  ename: string | null, conditions: readonly ConfigCondition[], field: string, command: string | null, programs: ProgramLine[],
): PlannedRequest[] {
  const requests: PlannedRequest[] = [];
  const names = new Set<string>();
  let restarts = 0;
  conditions.forEach((section, index) => {
    const at = `${field}[${index}]`;
    const cname = checked(`${at}.name`, () => checkName(section.name, "condition"));
    if (names.has(cname)) throw configError(`${at}.name`, `duplicate condition ${cname}`);
    names.add(cname);
    const type = constant(section.type, `${at}.type`);
    const conditionFlags = flags(section.flags, `${at}.flags`);
    if ((conditionFlags & ~Q.CONDITION_FLAGS) !== 0) throw configError(`${at}.flags`, "invalid condition flags");
    const base = { ename, cname, flags: conditionFlags };
    if (section.failureOnly === true && type !== Q.CONDDEATH) throw configError(`${at}.failureOnly`, "only a CONDDEATH condition takes it");
    if (type === Q.CONDSTATE) {
      requests.push({ op: "condition_state", args: { ...base, fromstate: section.fromstate ?? 0, tostate: section.tostate ?? 0 } });
    } else if (type === Q.CONDRAISE) {
      requests.push({ op: "condition_raise", args: { ...base, rtype: section.rtype ?? 0, rclass: section.rclass ?? 0, rseverity: section.rseverity ?? 0 } });
    } else if (type <= Q.CONDATTACH || isGroupConditionType(type) || type === Q.CONDPROBEFAIL) {
      requests.push({ op: "condition", args: { ...base, type, ...(section.failureOnly === true ? { failureOnly: true } : {}) } });
    } else throw configError(`${at}.type`, `invalid condition type ${type}`);
    const death = type === Q.CONDDEATH || type === Q.CONDABNORMALDEATH;
    // A restart in CONDPROBEFAIL stops the process for the death condition's restart (core/restart.ts).
    const probe = type === Q.CONDPROBEFAIL;
    const actionNames = new Set<string>();
    (section.actions ?? []).forEach((actionItem, actionIndex) => {
      const actionAt = `${at}.actions[${actionIndex}]`;
      const action: Record<string, unknown> = { ...actionItem };
      const aname = checked(`${actionAt}.name`, () => checkName(actionItem.name, "action"));
      if (actionNames.has(aname)) throw configError(`${actionAt}.name`, `duplicate action ${aname}`);
      actionNames.add(aname);
      const kind = actionItem.kind;
      // A restart action without a line restarts the entity's own command.
      if (kind === "restart" && action["line"] === undefined && command !== null) action["line"] = command;
      else if ((kind === "restart" || kind === "execute") && typeof action["line"] === "string") programs.push({ field: `${actionAt}.line`, line: action["line"] });
      checkedSpec(actionAt, () => readActionSpec(kind, new Args(action)));
      if (kind === "restart") {
        if (ename === null || (!death && !probe)) throw configError(actionAt, "a restart action belongs in an entity's CONDDEATH, CONDABNORMALDEATH or CONDPROBEFAIL condition");
        if (!probe) restarts += 1;
        if (restarts > 1) throw configError(actionAt, "an entity may have only one restart action");
      }
      if (kind === "waitfor" && (conditionFlags & Q.HCONDNOWAIT) !== 0) throw configError(actionAt, "no waitfor in an HCONDNOWAIT condition");
      const actionFlags = flags(actionItem.flags, `${actionAt}.flags`);
      requests.push({ op: "action", args: { ...action, ename, cname, aname, kind, flags: actionFlags, fail: undefined } });
      (actionItem.fail ?? []).forEach((fail, failIndex) => {
        const failAt = `${actionAt}.fail[${failIndex}]`;
        const fname = checked(`${failAt}.name`, () => checkName(fail.name, "fail-action"));
        checkedSpec(failAt, () => readFailSpec(fail.kind, new Args(fail)));
        if (fail.kind === "execute" && typeof fail["line"] === "string") programs.push({ field: `${failAt}.line`, line: fail["line"] });
        requests.push({ op: "action_fail", args: { ...fail, ename, cname, aname, fname, kind: fail.kind, flags: 0 } });
      });
    });
  });
  return requests;
}
