import { afterEach, describe, expect, it } from "vitest";
import { monotonicMs, RoleLeases } from "../../dist/lib/client/role-lease.js";

// Leased roles in the client library (cluster groups): a serving role with `until` is dropped
// when `until` passes without a renewal, and given back by a renewal that comes after the drop.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("leased roles in the client library", () => {
  const said: string[] = [];
  let leases: RoleLeases | undefined;
  const make = () => new RoleLeases((group, seq) => said.push(`drop ${group} ${seq}`), (group, role, seq) => said.push(`back ${group} ${role} ${seq}`));

  afterEach(() => {
    leases?.close();
    said.length = 0;
  });

  it("drops an active role when its until passes, not before", async () => {
    leases = make();
    const until = monotonicMs() + 300;
    leases.role("g", "active", 3, until);
    await sleep(50);
    if (monotonicMs() < until) expect(said).toEqual([]);
    await sleep(400);
    expect(said).toEqual(["drop g 3"]);
  });

  it("renewals keep it; a role without until (standby) ends the lease", async () => {
    leases = make();
    // Generous: a loaded machine may hold a 20 ms sleep up well past it.
    leases.role("g", "active", 3, monotonicMs() + 500);
    for (let i = 0; i < 4; i += 1) {
      await sleep(20);
      leases.renew("g", monotonicMs() + 500);
    }
    expect(said).toEqual([]);
    leases.role("g", "standby", 4, undefined);
    await sleep(600);
    expect(said).toEqual([]);
  });

  it("an until already past drops at once; a renewal after a drop gives the role back", async () => {
    leases = make();
    leases.role("g", "active", 5, monotonicMs() - 1);
    expect(said).toEqual(["drop g 5"]);
    leases.renew("g", monotonicMs() - 1);
    expect(said).toEqual(["drop g 5"]);
    leases.renew("g", monotonicMs() + 50);
    expect(said).toEqual(["drop g 5", "back g active 5"]);
  });
});
