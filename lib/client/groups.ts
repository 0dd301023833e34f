import { HamError } from "../errors.js";
import { checkName } from "../names.js";
import type { FaultPolicy } from "../tree/types.js";
import { requestAuto } from "./handles.js";
import { RoleDelivery, type RoleAnswer, type RoleAssignment } from "./role-delivery.js";
export type { HaState, RoleAssignment } from "./role-delivery.js";
import { placeOfNode, releaseIfUnused, runDirOfNode, sessionFor } from "./session.js";

// Beyond QNX: service groups (AIS AMF's service groups and HA states, on one node). The HAM
// assigns each member entity a role; the member's process hears of it through the callback it
// registers with ham_role_register and acknowledges it by returning (or refuses it by throwing).

export type GroupModel = "2N" | "N-way-active" | "no-redundancy";

export interface GroupOptions {
  readonly model: GroupModel;
  // Entity names, in order of preference (the first ready one is made active first). In a
  // cluster, NAME@NODE for every member makes a group across nodes (declared on each node that
  // hosts one, the same everywhere; 2N or no-redundancy): the node holding its election in etcd
  // has the active member. EINVAL on a HAM outside a cluster.
  readonly members: readonly string[];
  // A member that does not acknowledge a role within this time has failed (default 2000 ms).
  readonly ackTimeoutMs?: number;
  // What raised faults of each severity do to members without a policy of their own.
  readonly faults?: FaultPolicy | null;
}


export interface ham_role_t {
  readonly entity: string;
  // The group the entity belongs to when it registered (null: none yet; roles come once one has it).
  readonly group: string | null;
  // Stops answering roles and lets the connection go. The entity stays a member: a role the HAM
  // sends it afterwards goes unacknowledged, which is a failure of the member (it is killed,
  // and restarted by its death condition). To leave a group, ham_group_member_remove it first.
  close(): void;
}

export async function ham_group_create(gname: string, options: GroupOptions, node: string | null = null): Promise<string> {
  checkName(gname, "group");
  if (typeof options !== "object" || options === null) throw new HamError("EINVAL", "group options must be an object");
  const result = await requestAuto(placeOfNode(node), "group_create", { gname, ...options });
  return (result as { gname: string }).gname;
}

export async function ham_group_delete(gname: string, node: string | null = null): Promise<number> {
  checkName(gname, "group");
  return Number(await requestAuto(placeOfNode(node), "group_delete", { gname }));
}

export async function ham_group_member_add(gname: string, ename: string, node: string | null = null): Promise<number> {
  checkName(gname, "group");
  checkName(ename, "entity");
  return Number(await requestAuto(placeOfNode(node), "group_member_add", { gname, ename }));
}

export async function ham_group_member_remove(gname: string, ename: string, node: string | null = null): Promise<number> {
  checkName(gname, "group");
  checkName(ename, "entity");
  return Number(await requestAuto(placeOfNode(node), "group_member_remove", { gname, ename }));
}

export interface SwitchoverOptions {
  // Resolve once the switchover is done (or reject with ECANCELED when it is abandoned, the
  // reason in the message), instead of once it started. The HAM answers it, even after a takeover.
  readonly wait?: boolean;
  // How long to wait for that answer (default 30 s; ETIMEDOUT past it).
  readonly timeoutMs?: number;
}

export interface SwitchoverResult {
  readonly from: string;
  readonly to: string;
  // Its number in the group's count (status --json: groups[].switchovers).
  readonly switchover: number;
  // With `wait`: how long it took, request to the old active's standby acknowledgement.
  readonly ms?: number;
}

const SWITCHOVER_WAIT_MS = 30_000;

// A graceful switchover of a 2N group (active → quiescing → quiesced; standby → active; old
// active → standby); resolves once it started, with who goes and who comes, or with `wait` once
// it is done. A cluster group (members NAME@NODE) switches over to another node's member: asked
// on any node (one that does not hold the group forwards it to the one that does), the active
// member goes quiescing → quiesced → standby, then its node gives up the group's election for
// 2 × TTL and another node's standby takes it; with `wait`, resolves { from: "db@n1", to:
// "db@n2", ... } once that node holds the election, or rejects ECANCELED when nobody took it in
// the window (or the other nodes went down), the holder's member then active again (README,
// "Switchover across nodes").
export async function ham_group_switchover(gname: string, node: string | null = null, options: SwitchoverOptions = {}): Promise<SwitchoverResult> {
  checkName(gname, "group");
  const wait = options.wait === true;
  const args = wait ? { gname, wait } : { gname };
  return (await requestAuto(placeOfNode(node), "group_switchover", args, wait ? options.timeoutMs ?? SWITCHOVER_WAIT_MS : undefined)) as SwitchoverResult;
}

// Registers this process's role callback for `entity` (default: $HAM_ENTITY, which the HAM sets
// in every process it starts). Call it from the entity's own process. Each role is handed to
// `onRole` in order; the HAM hears it acknowledged when the callback returns (or its promise
// resolves), refused when it throws. A standby should restore its context (ckpt_read) before
// acknowledging "active". The connection stays open (and is re-established after a HAM
// takeover, when roles not yet acknowledged are sent again) until close().
export async function ham_role_register(
  onRole: (assignment: RoleAssignment) => void | Promise<void>,
  options: { readonly entity?: string; readonly node?: string | null } = {},
): Promise<ham_role_t> {
  if (typeof onRole !== "function") throw new HamError("EINVAL", "onRole must be a function");
  const entity = checkName(options.entity ?? process.env["HAM_ENTITY"], "entity");
  const session = await sessionFor(runDirOfNode(options.node ?? null));
  session.holds += 1;
  let closed = false;
  const acknowledge = (group: string, seq: number, answer: RoleAnswer) =>
    closed ? undefined : session.request("role_ack", { gname: group, ename: entity, seq, ...answer }).catch(() => undefined);
  const delivery = new RoleDelivery(entity, onRole, acknowledge);
  session.onLease = (message) => {
    if (!closed && message.entity === entity) delivery.renew(message.group, message.until);
  };
  session.onRole = (message) => {
    if (!closed && message.entity === entity) delivery.role(message);
  };
  let result: { group: string | null };
  try {
    result = (await session.request("role_register", { ename: entity })) as { group: string | null };
  } catch (error) {
    session.onRole = null;
    session.onLease = null;
    delivery.close();
    session.holds -= 1;
    releaseIfUnused(session);
    throw error;
  }
  return {
    entity, group: result.group,
    close: () => {
      if (closed) return;
      closed = true;
      session.onRole = null;
      session.onLease = null;
      delivery.close();
      session.holds -= 1;
      releaseIfUnused(session);
    },
  };
}
