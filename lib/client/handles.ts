import { HamError } from "../errors.js";
import { existingSession, placeOfNode, requestAt, sessionFor, releaseIfUnused, type Place, type Session } from "./session.js";

// Opaque handles naming an item by path (QNX §2.5). Freeing one never removes the item.
export interface ham_entity_t {
  readonly kind: "entity";
  readonly runDir: string;
  // The node whose HAM holds the item (null: the HAM of runDir itself).
  readonly node: string | null;
  readonly ename: string | null;
  freed: boolean;
}

export interface ham_condition_t {
  readonly kind: "condition";
  readonly runDir: string;
  // The node whose HAM holds the item (null: the HAM of runDir itself).
  readonly node: string | null;
  readonly ename: string | null;
  readonly cname: string;
  freed: boolean;
}

export interface ham_action_t {
  readonly kind: "action";
  readonly runDir: string;
  // The node whose HAM holds the item (null: the HAM of runDir itself).
  readonly node: string | null;
  readonly ename: string | null;
  readonly cname: string;
  readonly aname: string;
  freed: boolean;
}

type Handle = ham_entity_t | ham_condition_t | ham_action_t;

export function checkHandle<K extends Handle["kind"]>(handle: unknown, kind: K): Extract<Handle, { kind: K }> {
  if (typeof handle !== "object" || handle === null || (handle as Handle).kind !== kind) {
    throw new HamError("EINVAL", `invalid ${kind} handle`);
  }
  if ((handle as Handle).freed) throw new HamError("EINVAL", `${kind} handle already freed`);
  return handle as Extract<Handle, { kind: K }>;
}

export function pathArgs(handle: Handle): Record<string, string | null> {
  switch (handle.kind) {
    case "entity":
      return { ename: handle.ename };
    case "condition":
      return { ename: handle.ename, cname: handle.cname };
    case "action":
      return { ename: handle.ename, cname: handle.cname, aname: handle.aname };
  }
}

// The local HAM for an nd argument: only ND_LOCAL_NODE (0) exists (nodes are named: *_node).
export function placeOfNd(nd: number): Place {
  if (nd !== 0) throw new HamError("EINVAL", `only ND_LOCAL_NODE (0) is supported, not ${nd}`);
  return placeOfNode(null);
}


// Calls that need ham_connect first (or a self-attach): EBADF otherwise, as QNX.
export function connectedSession(runDir: string): Session {
  const session = existingSession(runDir);
  if (session === undefined || (session.refs <= 0 && session.holds <= 0)) {
    throw new HamError("EBADF", "not connected to the HAM: call ham_connect() first");
  }
  return session;
}

export async function requestConnected(place: Place, op: string, args: unknown): Promise<unknown> {
  return requestAt(connectedSession(place.runDir), place, op, args);
}

// Auto-connecting calls: use the open connection, or open one for this call only.
export async function requestAuto(place: Place, op: string, args: unknown, timeoutMs?: number): Promise<unknown> {
  const session = await sessionFor(place.runDir).catch((error: unknown) => {
    throw error instanceof HamError ? error : new HamError("EBADF", String(error));
  });
  try {
    return await requestAt(session, place, op, args, timeoutMs);
  } finally {
    releaseIfUnused(session);
  }
}
