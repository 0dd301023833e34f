import { conditionQueueName } from "../lib/tree/conditions.js";
import type { Condition, Entity } from "../lib/tree/types.js";

// Execution model (reference §5.4), with one deliberate difference: QNX runs all NOWAIT
// conditions in one shared FIFO and all OTHER conditions in another, so one entity's waitfor
// or restart backoff delays every other entity's recovery. Here those two FIFOs are kept per
// entity (the one the event happened to): within an entity the order is QNX's, and no entity
// ever waits for another. Each INDEPENDENT condition has its own FIFO (a global one, one per
// entity it fires for). A queue is a promise chain; an idle queue starts its job at once and
// is dropped when it empties.
class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  pending = 0;

  push(job: () => Promise<void>, onIdle: () => void): void {
    this.pending += 1;
    const run = async () => {
      try {
        await job();
      } finally {
        this.pending -= 1;
        if (this.pending === 0) onIdle();
      }
    };
    this.tail = this.pending === 1 ? run() : this.tail.then(run);
  }
}

export class ActionQueues {
  private readonly queues = new Map<string, SerialQueue>();

  push(entity: Entity, owner: Entity, condition: Condition, job: () => Promise<void>): void {
    const target = entity.kind === "global" ? "\0global" : entity.name;
    const kind = conditionQueueName(condition.flags);
    const key = kind === "INDEPENDENT" ? `${kind}/${target}/${owner.kind === "global" ? "\0global" : owner.name}/${condition.name}` : `${kind}/${target}`;
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = new SerialQueue();
      this.queues.set(key, queue);
    }
    const mine = queue;
    queue.push(job, () => {
      if (this.queues.get(key) === mine) this.queues.delete(key);
    });
  }
}
