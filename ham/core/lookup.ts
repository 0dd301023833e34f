import { HamError } from "../../lib/errors.js";
import type { Action, Condition, EntityState, HamState } from "./state.js";

// Finding items by name, for requests (an unknown name is ENOENT). null names the global entity.

export function entityOf(state: HamState, name: string | null): EntityState {
  if (name === null) return state.global;
  const entity = state.entities.get(name);
  if (entity === undefined) throw new HamError("ENOENT", `no entity ${name}`);
  return entity;
}

export function conditionOf(state: HamState, ename: string | null, cname: string): { entity: EntityState; condition: Condition } {
  const entity = entityOf(state, ename);
  const condition = entity.conditions.get(cname);
  if (condition === undefined) throw new HamError("ENOENT", `no condition ${cname} in ${ename ?? "the global entity"}`);
  return { entity, condition };
}

export function actionOf(state: HamState, ename: string | null, cname: string, aname: string): {
  entity: EntityState; condition: Condition; action: Action;
} {
  const { entity, condition } = conditionOf(state, ename, cname);
  const action = condition.actions.get(aname);
  if (action === undefined) throw new HamError("ENOENT", `no action ${aname} in ${cname}`);
  return { entity, condition, action };
}

export function counts(state: HamState): { entities: number; conditions: number; actions: number } {
  let conditions = 0;
  let actions = 0;
  for (const entity of [state.global, ...state.entities.values()]) {
    conditions += entity.conditions.size;
    for (const condition of entity.conditions.values()) actions += condition.actions.size;
  }
  return { entities: state.entities.size, conditions, actions };
}
