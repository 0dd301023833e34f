import { describe, expect, it } from "vitest";
import { RemoteCalls, type RemoteAnswer, type RemoteCall } from "../../dist/ham/cluster/remote-calls.js";
import type { EtcdAdapter, KeyFact } from "../../dist/ham/cluster/etcd.js";

// The remote-call protocol on an in-memory etcd (puts and deletes seen by prefix watches), with
// two nodes: what a caller gets for an answer, a node down or unknown, a silent node, and a call
// put again while it is served.

class FakeEtcd {
  readonly keys = new Map<string, KeyFact>();
  private readonly watchers: Array<{ prefix: string; onPut: (fact: KeyFact) => void }> = [];
  puts = 0;

  adapter(): EtcdAdapter {
    return {
      grant: () => Promise.resolve("1"),
      keepAlive: () => Promise.resolve(2),
      claim: () => Promise.resolve({ ok: true as const }),
      list: (prefix) => Promise.resolve({ facts: [...this.keys.values()].filter((fact) => fact.key.startsWith(prefix)), revision: "1" }),
      watch: (prefix, _from, onPut) => {
        this.watchers.push({ prefix, onPut });
        return Promise.resolve(() => undefined);
      },
      put: (key, value, lease) => {
        this.puts += 1;
        const fact = { key, value, lease };
        this.keys.set(key, fact);
        // Watch events come later, as etcd's do.
        for (const watcher of this.watchers) if (key.startsWith(watcher.prefix)) setImmediate(() => watcher.onPut(fact));
        return Promise.resolve();
      },
      remove: (key) => {
        this.keys.delete(key);
        return Promise.resolve();
      },
      txn: async () => ({ succeeded: false, revision: "0", results: [] }),
      close: () => undefined,
    };
  }
}

function node(etcd: FakeEtcd, self: string, states: Record<string, "up" | "down">, serve: (origin: string, call: RemoteCall) => Promise<RemoteAnswer>): RemoteCalls {
  return new RemoteCalls(etcd.adapter(), "c", self, { lease: () => self, nodeState: (name) => states[name] ?? null, serve, warn: () => undefined });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => "resolved", (error: { code?: string }) => String(error.code));
}

describe("remote calls through etcd (fake etcd)", () => {
  const states = { n1: "up", n2: "up", n3: "down" } as const;

  it("a call is answered with the target's result or its HamError code, and leaves no key behind", async () => {
    const etcd = new FakeEtcd();
    const served: string[] = [];
    const n1 = node(etcd, "n1", states, () => Promise.reject(new Error("n1 serves nothing")));
    const n2 = node(etcd, "n2", states, (origin, call) => {
      served.push(`${origin}:${call.op}`);
      return Promise.resolve(call.op === "ps" ? { r: [{ name: "x" }] } : { e: "ENOENT", m: "no entity y" });
    });
    await Promise.all([n1.start(), n2.start()]);
    expect(await n1.call("n2", "q1", { op: "ps", a: {}, token: null, id: 1 }, 1_000)).toEqual([{ name: "x" }]);
    await expect(n1.call("n2", "t.2", { op: "detach", a: { ename: "y" }, token: "t", id: 2 }, 1_000)).rejects.toMatchObject({ code: "ENOENT", message: "ENOENT: no entity y" });
    expect(served).toEqual(["n1:ps", "n1:detach"]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([...etcd.keys.keys()]).toEqual([]);
  });

  it("a node down or never seen is EHOSTDOWN at once, with nothing written", async () => {
    const etcd = new FakeEtcd();
    const n1 = node(etcd, "n1", states, () => Promise.reject(new Error("none")));
    await n1.start();
    await expect(n1.call("n3", "a", { op: "ps", a: {}, token: null, id: 1 }, 1_000)).rejects.toMatchObject({ code: "EHOSTDOWN", message: "EHOSTDOWN: node n3 is down" });
    expect(await codeOf(n1.call("n9", "b", { op: "ps", a: {}, token: null, id: 1 }, 1_000))).toBe("EHOSTDOWN");
    expect(etcd.puts).toBe(0);
  });

  it("a node that does not answer is ETIMEDOUT after the call's timeout, and its call key is deleted", async () => {
    const etcd = new FakeEtcd();
    const n1 = node(etcd, "n1", states, () => Promise.reject(new Error("none")));
    await n1.start();
    const started = performance.now();
    expect(await codeOf(n1.call("n2", "c", { op: "ps", a: {}, token: null, id: 1 }, 50))).toBe("ETIMEDOUT");
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect([...etcd.keys.keys()]).toEqual([]);
  });

  it("a call waiting on a node that goes down is EHOSTDOWN then", async () => {
    const etcd = new FakeEtcd();
    const n1 = node(etcd, "n1", states, () => Promise.reject(new Error("none")));
    await n1.start();
    const waiting = codeOf(n1.call("n2", "d", { op: "ps", a: {}, token: null, id: 1 }, 5_000));
    n1.nodeDown("n2");
    expect(await waiting).toBe("EHOSTDOWN");
  });

  it("a call put again while it is served (a resend) runs once and answers both", async () => {
    const etcd = new FakeEtcd();
    let runs = 0;
    let release: () => void = () => undefined;
    const n1 = node(etcd, "n1", states, () => Promise.reject(new Error("none")));
    const n2 = node(etcd, "n2", states, () => {
      runs += 1;
      return new Promise((resolve) => {
        release = () => resolve({ r: 0 });
      });
    });
    await Promise.all([n1.start(), n2.start()]);
    const call = { op: "attach", a: {}, token: "t", id: 7 };
    const first = n1.call("n2", "t.7", call, 1_000);
    const again = n1.call("n2", "t.7", call, 1_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await etcd.adapter().put("/hamd/c/calls/n2/n1/t.7", JSON.stringify(call), "n1", 1_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    expect(await Promise.all([first, again])).toEqual([0, 0]);
    expect(runs).toBe(1);
  });
});
