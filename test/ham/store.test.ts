import { afterEach, describe, expect, it } from "vitest";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFile, encodeHeader, encodeRecord, StateMap } from "../../dist/lib/store/format.js";
import { StateStore, StoreReader } from "../../dist/ham/adapters/store.js";

// The state files on their own: what a HAM that takes over reads back.
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "hamd-store-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("state file records", () => {
  it("reads every whole record and ignores a torn tail", () => {
    const whole = Buffer.concat([encodeHeader(3), encodeRecord({ q: 1, set: { a: 1 } }), encodeRecord({ q: 2, set: { b: 2 } })]);
    const torn = encodeRecord({ q: 3, set: { c: 3 } }).subarray(0, 11);
    const decoded = decodeFile(Buffer.concat([whole, torn]));
    expect(decoded.generation).toBe(3);
    expect(decoded.changes.map((change) => change.q)).toEqual([1, 2]);
    expect(decoded.validBytes).toBe(whole.length);
    expect(decoded.torn).toBe("record runs past the end");
  });

  it("stops at a record whose checksum does not match, never half-applying it", () => {
    const bad = encodeRecord({ q: 2, set: { b: 2 } });
    bad[bad.length - 2] ^= 0x01; // one flipped bit in the JSON
    const decoded = decodeFile(Buffer.concat([encodeHeader(0), encodeRecord({ q: 1, set: { a: 1 } }), bad, encodeRecord({ q: 3, set: { c: 3 } })]));
    expect(decoded.changes.map((change) => change.q)).toEqual([1]);
    expect(decoded.torn).toBe("checksum mismatch");
  });

  it("refuses a file of another format or version", () => {
    expect(() => decodeFile(Buffer.from("not a state file at all"))).toThrow("not a hamd state file");
    const future = encodeHeader(0);
    future.writeUInt32BE(99, 4);
    expect(() => decodeFile(future)).toThrow("version 99");
  });

  it("applies changes in seq order per key: an older change never overwrites a newer one", () => {
    const state = new StateMap();
    state.apply({ q: 5, set: { x: "snapshot" } });
    state.apply({ q: 4, set: { x: "older journal record" } });
    state.apply({ q: 6, del: ["x"] });
    state.apply({ q: 7, set: { y: 1 } });
    expect([...state.values]).toEqual([["y", 1]]);
    expect(state.maxSeq).toBe(7);
  });
});

describe("snapshot + journal", () => {
  it("gives back what was committed, across a compaction that overlaps new changes", async () => {
    const dir = tempDir();
    const store = new StateStore(dir);
    store.open(null);
    const live = new Map<string, unknown>();
    const put = (key: string, value: unknown) => {
      live.set(key, value);
      store.commit({ [key]: value }, undefined);
    };
    for (let i = 0; i < 500; i += 1) put(`e/${i}`, { n: i });
    const compaction = store.compact(() => [...live.keys()], (key) => live.get(key), 0.05);
    // Changes while the snapshot is being written: one key changed, one removed, one added.
    put("e/7", { n: "changed" });
    live.delete("e/8");
    store.commit(undefined, ["e/8"]);
    put("e/new", { n: "new" });
    const stats = await compaction;
    expect(stats.keys).toBeGreaterThanOrEqual(499);
    put("e/9", { n: "after" });
    store.close();
    expect(readdirSync(dir).sort()).toEqual(["journal.1", "snapshot.1"]);
    const state = new StoreReader(dir).refresh();
    expect(new Map(state.values)).toEqual(live);
  });

  it("continues a journal after a torn tail, and a reader that followed along sees the same", () => {
    const dir = tempDir();
    const store = new StateStore(dir);
    store.open(null);
    store.commit({ a: 1 }, undefined);
    store.close();
    appendFileSync(join(dir, "journal.0"), encodeRecord({ q: 2, set: { torn: true } }).subarray(0, 9));
    const follower = new StoreReader(dir);
    expect([...follower.refresh().values]).toEqual([["a", 1]]);
    expect(follower.torn).toBe("record runs past the end");
    const next = new StateStore(dir);
    next.open(new StoreReader(dir));
    next.commit({ b: 2 }, undefined);
    next.close();
    expect([...follower.refresh().values]).toEqual([["a", 1], ["b", 2]]);
    expect([...new StoreReader(dir).refresh().values]).toEqual([["a", 1], ["b", 2]]);
  });

  it("ignores a snapshot left half-written by a compaction the HAM died in", () => {
    const dir = tempDir();
    const store = new StateStore(dir);
    store.open(null);
    store.commit({ a: 1 }, undefined);
    store.close();
    writeFileSync(join(dir, "snapshot.1.tmp"), Buffer.concat([encodeHeader(1), encodeRecord({ q: 9, set: { junk: 1 } })]));
    truncateSync(join(dir, "snapshot.1.tmp"), 20);
    expect([...new StoreReader(dir).refresh().values]).toEqual([["a", 1]]);
    expect(readFileSync(join(dir, "journal.0")).length).toBeGreaterThan(16);
  });
});
