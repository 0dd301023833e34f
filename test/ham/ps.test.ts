import { describe, expect, it } from "vitest";
import { initialState, newEntity, type EntityState, type HamState } from "../../dist/ham/core/state.js";
import { psRows } from "../../dist/ham/server/ps.js";

// The rows of `hamctl ps` from a state built by hand: one entity in each state.
const WALL = 1_000_000;
const MONO = 5_000;

function withEntities(...entities: EntityState[]): HamState {
  const state = initialState(1, 1, WALL - 60_000);
  let index = state.entities;
  for (const entity of entities) index = index.set(entity.name, entity);
  return { ...state, entities: index };
}

function entity(name: string, kind: "attached" | "self" | "placeholder", change: (e: EntityState) => EntityState = (e) => e): EntityState {
  return change(newEntity(name, kind, WALL - 60_000));
}

const live = (pid: number, startedMs: number) => (e: EntityState): EntityState => ({
  ...e, run: { ...e.run, pid, startTime: 4242 }, counters: { ...e.counters, startedMs },
});

describe("ps rows", () => {
  it("names each entity's state, by name, with the counters the HAM keeps", () => {
    const state = withEntities(
      entity("web", "attached", (e) => {
        const up = live(41, WALL - 3_000)(e);
        return { ...up, counters: { ...up.counters, restarts: 2, deaths: 2, lastExit: "exit 1" } };
      }),
      entity("beater", "self", live(42, WALL - 500)),
      entity("flappy", "attached", (e) => ({ ...e, run: { ...e.run, restartAt: MONO + 800 }, counters: { ...e.counters, deaths: 5, restarts: 4, lastExit: "exit 0" } })),
      entity("spent", "attached", (e) => ({ ...e, counters: { ...e.counters, gaveUp: true, deaths: 3 } })),
      entity("kept", "attached", (e) => ({ ...e, counters: { ...e.counters, deaths: 1, lastExit: "killed by SIGKILL" } })),
      entity("later", "placeholder"),
    );
    const rows = psRows(state, WALL, MONO);
    expect(rows.map((row) => [row.name, row.state])).toEqual([
      ["beater", "self-attached"], ["flappy", "backing off"], ["kept", "dead"], ["later", "placeholder"], ["spent", "gave up"], ["web", "running"],
    ]);
    expect(rows.find((row) => row.name === "web")).toEqual({
      name: "web", kind: "attached", state: "running", pid: 41, startTime: 4242, startedMs: WALL - 3_000, uptimeMs: 3_000,
      restarts: 2, deaths: 2, lastExit: "exit 1", restartInMs: null, ready: true, requires: [], waitingFor: [],
      // Built by hand, never accounted: no availability figures yet.
      upMs: 0, downMs: 0, mttrMs: null, mtbfMs: null, availabilityPercent: null, availability24hPercent: null, group: null, role: null,
    });
    expect(rows.find((row) => row.name === "flappy")).toMatchObject({ pid: 0, uptimeMs: null, startedMs: null, restartInMs: 800, deaths: 5 });
    expect(rows.find((row) => row.name === "later")).toMatchObject({ kind: "placeholder", pid: 0, lastExit: null });
  });

  it("has no row for the global entity", () => {
    expect(psRows(withEntities(), WALL, MONO)).toEqual([]);
  });
});
