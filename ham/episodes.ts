import type { Condition, Entity } from "../lib/tree/types.js";
import type { Firing } from "./firing.js";

// What the monitor tells the shared state (persist.ts, through the HAM).
export interface StateHooks {
  changed(entity: Entity): void;
  conditionChanged(owner: Entity, condition: Condition): void;
  firing(firing: Firing, done: boolean): void;
  // Writes what changed now (before a side effect a new HAM must know about).
  flush(): void;
  nextFiringId(): number;
  nextSpawnToken(entity: Entity): string;
}

// Counts the firings a death set off (including the CONDRESTART firings its restart set
// off); when the last one ends, the entity is pruned (restarted) or removed (not).
export class Episode {
  private pending = 1;
  constructor(private readonly onFinish: () => void, public restarted = false) {}
  add(): void {
    this.pending += 1;
  }
  done(): void {
    this.pending -= 1;
    if (this.pending === 0) this.onFinish();
  }
}

