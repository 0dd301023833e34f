import { conditionQueueName } from "../lib/tree/queues.js";
import type { Condition, Entity } from "../lib/tree/types.js";

// Execution model (reference §5.4): all NOWAIT conditions share one FIFO, each INDEPENDENT
// condition has its own, all others share one. A queue is a promise chain; an idle queue
// starts its job at once, and an INDEPENDENT queue is dropped when it empties.
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
  private readonly nowait = new SerialQueue();
  private readonly other = new SerialQueue();
  private readonly independent = new Map<string, SerialQueue>();

  push(owner: Entity, condition: Condition, job: () => Promise<void>): void {
    switch (conditionQueueName(condition.flags)) {
      case "NOWAIT":
        this.nowait.push(job, ignore);
        return;
      case "OTHER":
        this.other.push(job, ignore);
        return;
      case "INDEPENDENT": {
        const key = `${owner.kind === "global" ? "\0global" : owner.name}/${condition.name}`;
        let queue = this.independent.get(key);
        if (queue === undefined) {
          queue = new SerialQueue();
          this.independent.set(key, queue);
        }
        queue.push(job, () => this.independent.delete(key));
        return;
      }
    }
  }
}

function ignore(): void {}
