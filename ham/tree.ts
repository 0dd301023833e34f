import { HamError } from "../lib/errors.js";
import type { TreeView } from "../lib/tree/render.js";
import type { Action, Condition, Entity, EntityKind, HamInfo } from "../lib/tree/types.js";
import { DEFAULTS } from "./defaults.js";

// The HAM's tree, indexed by name (Maps), so no event scans all entities.
export class HamTree {
  readonly entities = new Map<string, Entity>();
  readonly global: Entity;
  // Told of every entity added, removed or given a new pid (the shared state follows).
  onChange: (entity: Entity, removed: boolean) => void = () => undefined;

  constructor(private readonly now: () => number) {
    this.global = this.newEntity("", "global");
  }

  newEntity(name: string, kind: EntityKind): Entity {
    const now = this.now();
    return {
      name, kind, pid: 0, startTime: null, ownChild: false, command: null, flags: 0, enabled: true,
      heartbeat: null, policy: DEFAULTS.restartPolicy, conditions: new Map(), createdMs: now, startedMs: now,
      lastDeathMs: null, restartedMs: null, restarts: 0, deaths: 0, abnormalDeaths: 0, missedLow: 0,
      missedHigh: 0, lastState: 0, lastExit: null, restartTimes: [], backoffMs: 0, gaveUp: false,
      spawnToken: null, restartAt: null, clientToken: null,
    };
  }

  add(entity: Entity): void {
    this.entities.set(entity.name, entity);
    this.onChange(entity, false);
  }

  remove(entity: Entity): void {
    if (this.entities.get(entity.name) !== entity) return;
    this.entities.delete(entity.name);
    this.onChange(entity, true);
  }

  contains(entity: Entity): boolean {
    return entity.kind === "global" || this.entities.get(entity.name) === entity;
  }

  setPid(entity: Entity, pid: number): void {
    entity.pid = pid;
    if (this.contains(entity)) this.onChange(entity, false);
  }

  // null names the global entity.
  entity(name: string | null): Entity {
    if (name === null) return this.global;
    const entity = this.entities.get(name);
    if (entity === undefined) throw new HamError("ENOENT", `no entity ${name}`);
    return entity;
  }

  condition(entityName: string | null, conditionName: string): { entity: Entity; condition: Condition } {
    const entity = this.entity(entityName);
    const condition = entity.conditions.get(conditionName);
    if (condition === undefined) throw new HamError("ENOENT", `no condition ${conditionName} in ${entityName ?? "the global entity"}`);
    return { entity, condition };
  }

  action(entityName: string | null, conditionName: string, actionName: string): {
    entity: Entity; condition: Condition; action: Action;
  } {
    const { entity, condition } = this.condition(entityName, conditionName);
    const action = condition.actions.get(actionName);
    if (action === undefined) throw new HamError("ENOENT", `no action ${actionName} in ${conditionName}`);
    return { entity, condition, action };
  }

  counts(): { entities: number; conditions: number; actions: number } {
    let conditions = 0;
    let actions = 0;
    for (const entity of [this.global, ...this.entities.values()]) {
      conditions += entity.conditions.size;
      for (const condition of entity.conditions.values()) actions += condition.actions.size;
    }
    return { entities: this.entities.size, conditions, actions };
  }

  view(info: HamInfo, verbosity: number): TreeView {
    return { info, entities: this.entities, global: this.global, counts: this.counts(), verbosity };
  }
}
