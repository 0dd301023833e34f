import { conditionQueueName } from "../../lib/tree/conditions.js";
import type { Condition } from "./state.js";

// Execution model (reference §5.4), with one deliberate difference: QNX runs all NOWAIT
// conditions in one shared FIFO and all OTHER conditions in another, so one entity's waitfor
// or restart backoff delays every other entity's recovery. Here those two FIFOs are kept per
// entity (the one the event happened to): within an entity the order is QNX's, and no entity
// ever waits for another. Each INDEPENDENT condition has its own FIFO (a global one, one per
// entity it fires for). A queue is a list of firing ids in the state; its first one runs.
export function queueOf(entity: string, owner: string, condition: Pick<Condition, "name" | "flags">): string {
  const kind = conditionQueueName(condition.flags);
  return kind === "INDEPENDENT" ? `${kind}/${entity}/${owner}/${condition.name}` : `${kind}/${entity}`;
}
