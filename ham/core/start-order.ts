import { HamError } from "../../lib/errors.js";
import type { ConfigPlan } from "./events.js";
import type { Tx } from "./tx.js";

// The graph of `requires` (readiness.ts) as a config apply leaves it, checked before the apply
// changes anything: a name required must be an entity (of the file, or already in the HAM), and
// no entity may require itself through others (a cycle would wait for ever). Either refuses the
// apply whole, naming the entity or the cycle.
export function checkRequirements(tx: Pick<Tx, "entities">, plan: ConfigPlan, previous: ReadonlyMap<string, string>): void {
  const planned = new Set(plan.entities.map((entity) => entity.name));
  const graph = new Map<string, readonly string[]>();
  for (const entity of tx.entities.values()) {
    // Entities the file no longer holds leave the HAM with this apply.
    if (previous.has(entity.name) && !planned.has(entity.name)) continue;
    graph.set(entity.name, entity.spec.readiness.requires);
  }
  for (const entity of plan.entities) graph.set(entity.name, requiresOf(entity.create.args["readiness"]));
  for (const entity of plan.entities) {
    for (const name of graph.get(entity.name) ?? []) {
      if (!graph.has(name)) throw new HamError("ENOENT", `${entity.name} requires ${name}, which is neither in the file nor in the HAM`);
    }
  }
  const cycle = findCycle(graph);
  if (cycle !== null) throw new HamError("EINVAL", `requires: a cycle: ${describeCycle(cycle)}`);
}

// The names a planned attach's `readiness` argument requires (checked later by the attach itself).
function requiresOf(raw: unknown): readonly string[] {
  const requires = typeof raw === "object" && raw !== null ? (raw as { requires?: unknown }).requires : undefined;
  return Array.isArray(requires) ? requires.filter((name): name is string => typeof name === "string") : [];
}

// A cycle in `requires` (the first found, as names from its start back to it: a, b, c, a), or null.
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (name: string): string[] | null => {
    if (onPath.has(name)) return [...path.slice(path.indexOf(name)), name];
    if (done.has(name)) return null;
    path.push(name);
    onPath.add(name);
    for (const next of graph.get(name) ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    path.pop();
    onPath.delete(name);
    done.add(name);
    return null;
  };
  for (const name of graph.keys()) {
    const cycle = visit(name);
    if (cycle !== null) return cycle;
  }
  return null;
}

export const describeCycle = (cycle: readonly string[]): string => cycle.join(" → ");
