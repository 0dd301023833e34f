import type { ham_entity_t } from "./handles.js";
import type { Session } from "./session.js";

// Sessions of this process that hold self-attached entities with a heartbeat.
export const beating = new Map<Session, Set<ham_entity_t>>();

export function startBeating(session: Session, handle: ham_entity_t): void {
  let set = beating.get(session);
  if (set === undefined) beating.set(session, (set = new Set()));
  set.add(handle);
}

export function stopBeating(session: Session, handle: ham_entity_t): void {
  const set = beating.get(session);
  set?.delete(handle);
  if (set?.size === 0) beating.delete(session);
}

