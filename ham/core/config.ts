import { HamError } from "../../lib/errors.js";
import { ordered } from "./state.js";
import { Args } from "./specs.js";
import type { Caller, ConfigPlan, PlannedRequest, ProgramLine } from "./events.js";
export type { ConfigPlan, PlannedEntity, PlannedRequest } from "./events.js";
import { warnRestartless } from "./faults.js";
import { forgetActions } from "./firings.js";
import { LOG_LEVEL } from "./describe.js";
import { applyRequest, detachEntity } from "./requests.js";
import type { Tx } from "./tx.js";
import { servingNow } from "./groups/roles.js";
import { checkRequirements } from "./start-order.js";
import { readReadiness, startWaiting } from "./readiness.js";


// A config file applied as a diff, in one transition: entities whose section is unchanged are
// left alone; changed ones get their conditions, policy, command and flags replaced while their
// process keeps running (as systemd's daemon-reload: the new command is used from the next
// restart on); removed ones are detached (their process keeps running). A request that fails
// part-way throws, and the step drops the whole transition: the running state is as before.

export interface ApplyResult {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  readonly unchanged: string[];
  // Present when some are: fault policies that ask for a restart nothing would do (faults.ts).
  warnings?: string[];
}

// The command lines an apply installs, with the field each is read from: the commands of new
// or changed entities (started now), their restart lines (run at the next death) and execute
// lines (run mid-recovery, the worst moment to find a typo), and the global conditions' execute
// lines (replaced by every apply). The server looks their programs up first, so a missing one
// refuses the file before anything runs. A restart without a line of its own uses the command.
export function programsToCheck(tx: Pick<Tx, "meta">, plan: ConfigPlan, source: string): ProgramLine[] {
  const previous = tx.meta.config.applied.get(source);
  return [
    ...plan.entities.filter((entity) => previous?.get(entity.name) !== entity.fingerprint).flatMap((entity) => entity.programs ?? []),
    ...(plan.globalPrograms ?? []),
  ];
}

// A group of the file: created, or (existing) given the file's members, ack timeout and fault
// policy; its model cannot change in place (EBUSY: delete it first). A group taken out of the
// file is left as it is (ham_group_delete removes it).
function applyGroup(tx: Tx, request: PlannedRequest, run: (request: PlannedRequest) => unknown): void {
  const name = String(request.args["gname"]);
  const existing = tx.groups.get(name);
  if (existing === undefined) {
    run(request);
    return;
  }
  if (existing.model !== request.args["model"]) throw new HamError("EBUSY", `group ${name} is ${existing.model}: delete it before making it ${String(request.args["model"])}`);
  const members = Array.isArray(request.args["members"]) ? request.args["members"].map(String) : [];
  // A cluster group keeps the members it was made with (its declaration is the same on every node).
  if (existing.cluster !== undefined) members.splice(0, members.length, ...existing.members.map((member) => member.name));
  for (const member of existing.members) {
    if (!members.includes(member.name)) run({ op: "group_member_remove", args: { gname: name, ename: member.name } });
  }
  for (const member of members) {
    if (!existing.members.some((item) => item.name === member)) run({ op: "group_member_add", args: { gname: name, ename: member } });
  }
  run({ op: "group_update", args: { gname: name, ackTimeoutMs: request.args["ackTimeoutMs"], faults: request.args["faults"] } });
}

export function applyConfig(tx: Tx, plan: ConfigPlan, source: string): ApplyResult {
  const previous = tx.meta.config.applied.get(source) ?? new Map<string, string>();
  for (const entity of plan.entities) {
    if (tx.entities.has(entity.name) && !previous.has(entity.name)) {
      throw new HamError("EEXIST", `entity ${entity.name} exists and was not created by ${source}`);
    }
  }
  // Before anything changes: every name required exists (in the file or the HAM), and no cycle.
  checkRequirements(tx, plan, previous);
  const caller: Caller = { pid: tx.meta.hamPid, token: null };
  const run = (request: PlannedRequest) => applyRequest(tx, request.op, { ref: 0, caller, replyTo: null, args: new Args(request.args), pidStart: null, viaConfig: source });
  const result: ApplyResult = { added: [], changed: [], removed: [], unchanged: [] };
  const next = new Map<string, string>();
  for (const entity of plan.entities) {
    next.set(entity.name, entity.fingerprint);
    const existing = tx.entities.get(entity.name);
    if (existing !== undefined && previous.get(entity.name) === entity.fingerprint) {
      result.unchanged.push(entity.name);
      continue;
    }
    if (existing === undefined) {
      run(entity.create);
      result.added.push(entity.name);
    } else {
      // Firings already queued skip the actions this apply replaces.
      forgetActions(tx, new Set([...existing.conditions.values()].flatMap((condition) => [...condition.actions.values()].map((action) => action.id))));
      tx.setConditions(entity.name, ordered());
      const line = entity.create.args["line"];
      tx.spec(entity.name, {
        command: typeof line === "string" && existing.spec.kind === "attached" ? line : existing.spec.command,
        // The file's probes replace the entity's (set again by its setup requests).
        probes: [],
        flags: Number(entity.create.args["flags"] ?? existing.spec.flags),
        readiness: readReadiness(entity.create.args["readiness"]),
      });
      result.changed.push(entity.name);
    }
    for (const request of entity.setup) run(request);
  }
  // The global conditions this file made are replaced by the ones it makes now.
  for (const name of tx.meta.config.global.get(source) ?? []) {
    const condition = tx.global.conditions.get(name);
    if (condition === undefined) continue;
    forgetActions(tx, new Set([...condition.actions.values()].map((action) => action.id)));
    tx.deleteCondition("", name);
  }
  const globalNames: string[] = [];
  for (const request of plan.global) {
    if (request.op.startsWith("condition")) globalNames.push(String(request.args["cname"]));
    run(request);
  }
  for (const request of plan.groups ?? []) applyGroup(tx, request, run);
  for (const name of previous.keys()) {
    if (next.has(name)) continue;
    const entity = tx.entities.get(name);
    if (servingNow(tx, name)) {
      throw new HamError("EBUSY", `${name} serves its group: it cannot leave the config while it does (switch it over, or take it out of the group first)`);
    }
    if (entity !== undefined && entity.spec.kind !== "self") detachEntity(tx, entity, `removed from ${source}`);
    result.removed.push(name);
  }
  // A changed entity may require less than before, an added one be what another waited for.
  startWaiting(tx, null);
  // Judged on the whole file: a restart action may follow the policy that needs it.
  const members = (plan.groups ?? []).flatMap((request) => (Array.isArray(request.args["members"]) ? request.args["members"].map(String) : []));
  const warnings = [...new Set([...result.added, ...result.changed, ...members])].flatMap((name) => warnRestartless(tx, name) ?? []);
  if (warnings.length > 0) result.warnings = warnings;
  tx.setMeta({
    config: {
      applied: new Map(tx.meta.config.applied).set(source, next),
      global: new Map(tx.meta.config.global).set(source, globalNames),
    },
  });
  tx.log(LOG_LEVEL.events, "info", { event: "config", source, ...result }, `config applied from ${source}`);
  return result;
}
