// What this HAM knows of a node of its cluster (node-facts.ts), kept in the shared state.
export interface NodeFact {
  readonly state: "up" | "down";
  // The pid its node key named (the HAM on that node), null when unknown.
  readonly pid: number | null;
  // Wall ms of the last change.
  readonly sinceMs: number;
}
