import { expect, it } from "vitest";
import { ClusterCheckpoints, type Header } from "../../dist/ham/cluster/checkpoints.js";
import type { EtcdAdapter, RawKey, TxnCompare, TxnOp } from "../../dist/ham/cluster/etcd.js";

// The fenced transactions of checkpoints across nodes (ham/cluster/checkpoints.ts) on an
// in-memory etcd with revisions: two nodes' stores, the election key moved between them, and the
// header this HAM wrote last planned on at once (then read again when it turns out stale).

class FakeEtcd {
  revision = 1;
  txns = 0;
  readonly keys = new Map<string, { value: Buffer; create: number; mod: number }>();

  put(key: string, value: Buffer): void {
    this.revision += 1;
    this.keys.set(key, { value, create: this.keys.get(key)?.create ?? this.revision, mod: this.revision });
  }

  adapter(): EtcdAdapter {
    const unused = () => Promise.reject(new Error("unused"));
    const raw = (key: string): RawKey | null => {
      const kv = this.keys.get(key);
      return kv === undefined ? null : { value: kv.value, createRevision: String(kv.create), modRevision: String(kv.mod) };
    };
    return {
      grant: () => Promise.resolve("7"), keepAlive: unused, claim: unused, campaign: unused, deleteIf: unused, list: unused, watch: unused, put: unused, remove: unused,
      close: () => undefined,
      txn: async (compare: readonly TxnCompare[], success: readonly TxnOp[], failure: readonly TxnOp[]) => {
        this.txns += 1;
        const holds = compare.every((c) => String(c.target === "create" ? this.keys.get(c.key)?.create ?? 0 : this.keys.get(c.key)?.mod ?? 0) === c.equals);
        const ops = holds ? success : failure;
        const writes = ops.some((op) => op.kind !== "get");
        if (writes) this.revision += 1;
        const results = ops.map((op) => {
          if (op.kind === "get") return raw(op.key);
          if (op.kind === "put") this.keys.set(op.key, { value: op.value, create: this.keys.get(op.key)?.create ?? this.revision, mod: this.revision });
          else for (const key of [...this.keys.keys()]) if (op.prefix ? key.startsWith(op.key) : key === op.key) this.keys.delete(key);
          return null;
        });
        return { succeeded: holds, revision: String(this.revision), results };
      },
    };
  }
}

const election = "/hamd/c/groups/g/active";
const header = (bytes = 0): Header => ({ limits: { maxSections: 4, maxSectionBytes: 100, maxBytes: 100 }, createdMs: 0, bytes, sections: {} });
// A plan as server/cluster-checkpoints.ts makes one: `section` = `text`, the header's bytes counted.
const writing = (store: ClusterCheckpoints, text: string, section = "s") => (read: { header: Header; id: number } | null) => {
  if (read === null) throw Object.assign(new Error("EIDRM"), { code: "EIDRM" });
  const bytes = read.header.bytes - (read.header.sections[section]?.size ?? 0) + text.length;
  if (bytes > read.header.limits.maxBytes) throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
  return { header: { ...read.header, bytes, sections: { ...read.header.sections, [section]: { size: text.length, writtenMs: 0 } } },
    ops: [{ kind: "put" as const, key: store.sectionKey("g", "c", section), value: Buffer.from(text), lease: "0" }] };
};

it("the holder writes in one round trip once it has written; the other node is EPERM; a takeover of the election fences the old holder", async () => {
  const etcd = new FakeEtcd();
  const n1 = new ClusterCheckpoints(etcd.adapter(), "c", "n1", () => 0);
  const n2 = new ClusterCheckpoints(etcd.adapter(), "c", "n2", () => 0);
  etcd.put(election, Buffer.from("n1"));
  const token1 = String(etcd.keys.get(election)?.create);
  await n1.open("g", "c", () => header());
  expect(await n1.mutate("g", "c", { token: token1, request: null }, "ckpt_write", writing(n1, "one"))).toBe(0);
  const before = etcd.txns;
  expect(await n1.mutate("g", "c", { token: token1, request: null }, "ckpt_write", writing(n1, "two"))).toBe(0);
  expect(etcd.txns - before).toBe(1);
  await expect(n2.mutate("g", "c", { token: null, request: null }, "ckpt_write", writing(n2, "n2"))).rejects.toMatchObject({ code: "EPERM" });
  // n1's lease expires (its key goes), n2 is elected and writes; n1 still believes it holds token1.
  etcd.keys.delete(election);
  etcd.put(election, Buffer.from("n2"));
  const token2 = String(etcd.keys.get(election)?.create);
  expect(await n2.mutate("g", "c", { token: token2, request: null }, "ckpt_write", writing(n2, "n2 active"))).toBe(0);
  await expect(n1.mutate("g", "c", { token: token1, request: null }, "ckpt_write", writing(n1, "stale"))).rejects.toMatchObject({ code: "EPERM" });
  expect((await n1.section("g", "c", "s")).bytes?.toString()).toBe("n2 active");
});

it("a plan that fails on the remembered header is made again on a fresh read; an answered request gets its answer", async () => {
  const etcd = new FakeEtcd();
  const n1 = new ClusterCheckpoints(etcd.adapter(), "c", "n1", () => 0);
  const n2 = new ClusterCheckpoints(etcd.adapter(), "c", "n2", () => 0);
  etcd.put(election, Buffer.from("n1"));
  const token1 = String(etcd.keys.get(election)?.create);
  await n1.open("g", "c", () => header());
  // n1 remembers 90 bytes in s; n2 (holding the key meanwhile) shrinks s to 1 byte.
  expect(await n1.mutate("g", "c", { token: token1, request: null }, "ckpt_write", writing(n1, "x".repeat(90)))).toBe(0);
  etcd.keys.delete(election);
  etcd.put(election, Buffer.from("n2"));
  const token2 = String(etcd.keys.get(election)?.create);
  expect(await n2.mutate("g", "c", { token: token2, request: null }, "ckpt_write", writing(n2, "y"))).toBe(0);
  etcd.keys.delete(election);
  etcd.put(election, Buffer.from("n1"));
  const token3 = String(etcd.keys.get(election)?.create);
  // 20 bytes in t: ENOSPC on the remembered header (90 + 20 > 100), room on the real one (1 + 20).
  expect(await n1.mutate("g", "c", { token: token3, request: { token: "t", id: 1 } }, "ckpt_write", writing(n1, "z".repeat(20), "t"))).toBe(0);
  expect((await n1.header("g", "c"))?.header.bytes).toBe(21);
  // A remembered header that plans fine but is stale (the header changed behind it: s alone, 1
  // byte): the txn's header comparison fails, and its failure branch's fresh read plans again.
  etcd.put(n1.headerKey("g", "c"), Buffer.from(JSON.stringify({ ...header(1), sections: { s: { size: 1, writtenMs: 0 } } })));
  expect(await n1.mutate("g", "c", { token: token3, request: null }, "ckpt_write", writing(n1, "w".repeat(50)))).toBe(0);
  expect((await n1.header("g", "c"))?.header.bytes).toBe(50);
  // The same request again (a client that resent it): answered 0 from its answer key, nothing planned.
  expect(await n1.mutate("g", "c", { token: token3, request: { token: "t", id: 1 } }, "ckpt_write", () => { throw new Error("planned again"); })).toBe(0);
  expect(etcd.keys.get("/hamd/c/ckpt-replies/n1/t.1")?.value.toString()).toBe('{"r":0}');
});
