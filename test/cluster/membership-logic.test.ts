import { describe, expect, it } from "vitest";
import { Membership, NodeHeld } from "../../dist/ham/cluster/membership.js";
import type { EtcdAdapter, KeyFact } from "../../dist/ham/cluster/etcd.js";

// The membership's deadline and lease handling on a fake etcd and a manual clock.

interface Pending { lease: string; resolve: (ttl: number) => void; reject: (error: Error) => void }

function world(options: { claim?: boolean; keptAlive?: number } = {}) {
  let now = 0;
  let granted = 0;
  const loops: Array<{ ms: number; run: () => void }> = [];
  let timers: Array<{ due: number; run: () => void }> = [];
  const keepalives: Pending[] = [];
  const claims: string[] = [];
  const events: string[] = [];
  const leases: string[] = [];
  let watchPut: (fact: KeyFact) => void = () => undefined;
  let watchDelete: (key: string) => void = () => undefined;
  const etcd: EtcdAdapter = {
    grant: async () => `L${(granted += 1)}`,
    keepAlive: (lease) => (keepalives.length === 0 && options.keptAlive !== undefined && lease === "KEPT"
      ? Promise.resolve(options.keptAlive)
      : new Promise((resolve, reject) => keepalives.push({ lease, resolve, reject }))),
    claim: async (_key, _value, lease) => {
      claims.push(lease);
      return options.claim === false ? { ok: false, holder: { key: "/hamd/c/nodes/n1", value: JSON.stringify({ pid: 4242 }), lease: "OTHER" } } : { ok: true };
    },
    list: async () => ({ facts: [], revision: "1" }),
    watch: async (_prefix, _from, onPut, onDelete) => {
      watchPut = onPut;
      watchDelete = onDelete;
      return () => undefined;
    },
    txn: async () => ({ succeeded: false, revision: "0", results: [] }),
    close: () => undefined,
  };
  const membership = new Membership(etcd, { cluster: "c", node: "n1", ttlS: 2, marginMs: 300, version: "test", address: null, startedMs: 0 }, {
    log: (event) => events.push(event),
    leaseChanged: (lease) => leases.push(lease),
    now: () => now,
    wall: () => 1_000_000 + now,
    every: (ms, run) => {
      loops.push({ ms, run });
      return () => undefined;
    },
    after: (ms, run) => {
      const timer = { due: now + ms, run };
      timers.push(timer);
      return () => {
        timers = timers.filter((other) => other !== timer);
      };
    },
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    membership, keepalives, claims, events, leases, settle,
    at: (ms: number) => {
      now = ms;
      const due = timers.filter((timer) => timer.due <= now);
      timers = timers.filter((timer) => timer.due > now);
      for (const timer of due) timer.run();
    },
    armed: () => timers.length,
    tick: () => loops[0]?.run(),
    put: (fact: KeyFact) => watchPut(fact),
    remove: (key: string) => watchDelete(key),
  };
}

describe("membership (fake etcd, manual clock)", () => {
  it("counts a keepalive from when it was sent, not from when its answer came", async () => {
    const w = world();
    await w.membership.join(null);
    w.at(600);
    w.tick();
    w.at(1_500);
    w.keepalives[0]?.resolve(2);
    await w.settle();
    expect(w.membership.deadline).toBe(600 + 2_000 - 300);
  });

  it("says lease-expiring once at the deadline, and lease-renewed when a keepalive answers again", async () => {
    const w = world();
    await w.membership.join(null);
    w.at(1_600);
    w.tick();
    w.at(1_699);
    expect(w.events).toEqual([]);
    w.at(1_700);
    w.at(1_800);
    expect(w.events).toEqual(["lease-expiring"]);
    expect(w.membership.rows()).toEqual([]);
    w.keepalives[0]?.resolve(1);
    await w.settle();
    expect(w.events).toEqual(["lease-expiring", "lease-renewed"]);
    expect(w.membership.deadline).toBe(1_600 + 1_700);
    // One timer, at the new deadline.
    expect(w.armed()).toBe(1);
    w.at(3_300);
    expect(w.events).toEqual(["lease-expiring", "lease-renewed", "lease-expiring"]);
  });

  it("a stalled keepalive does not hold back the next one", async () => {
    const w = world();
    await w.membership.join(null);
    w.at(600);
    w.tick();
    w.at(1_200);
    w.tick();
    w.keepalives[1]?.resolve(2);
    await w.settle();
    expect(w.membership.deadline).toBe(1_200 + 1_700);
    w.keepalives[0]?.resolve(2);
    await w.settle();
    expect(w.membership.deadline).toBe(1_200 + 1_700);
  });

  it("a lease etcd says is gone is granted again and the node key claimed on it", async () => {
    const w = world();
    await w.membership.join(null);
    w.tick();
    w.keepalives[0]?.resolve(0);
    await w.settle();
    expect(w.membership.lease).toBe("L2");
    expect(w.claims).toEqual(["L1", "L2"]);
    expect(w.leases).toEqual(["L1", "L2"]);
    expect(w.events).toContain("lease-regranted");
  });

  it("a takeover keeps the lease it read back while etcd still has it", async () => {
    const w = world({ keptAlive: 2 });
    await w.membership.join("KEPT");
    expect(w.membership.lease).toBe("KEPT");
    expect(w.claims).toEqual(["KEPT"]);
  });

  it("a name held by another lease is refused with its holder's pid", async () => {
    const w = world({ claim: false });
    await expect(w.membership.join(null)).rejects.toThrow(new NodeHeld("n1", 4242));
    expect(new NodeHeld("n1", 4242).message).toBe("node n1 is already held (pid 4242)");
  });

  it("learns nodes from the watch: joined, then down", async () => {
    const w = world();
    await w.membership.join(null);
    w.put({ key: "/hamd/c/nodes/n2", value: JSON.stringify({ pid: 7 }), lease: "X" });
    w.remove("/hamd/c/nodes/n2");
    expect(w.events).toEqual(["node-joined", "node-down"]);
    expect(w.membership.rows()).toMatchObject([{ name: "n2", pid: 7, state: "down", self: false }]);
  });
});
