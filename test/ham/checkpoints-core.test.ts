import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { initialState, type HamState } from "../../dist/ham/core/state.js";
import { step } from "../../dist/ham/core/step.js";
import { recordOf, stateKeys } from "../../dist/ham/daemon/records.js";
import { restoreState } from "../../dist/ham/daemon/restore.js";
import { isCheckpointValue, isSectionValue } from "../../dist/ham/daemon/state-schema.js";

// Checkpoints in the core alone: requests in, replies and changed keys out, on a manual clock.

class Ham {
  state: HamState = initialState(1, 2, 1_000_000);
  wall = 1_000_000;
  private ref = 1;
  changes = new Set<string>();

  send(op: string, args: Record<string, unknown>): { result?: unknown; error?: string } {
    const result = step(this.state, {
      kind: "request", at: { wall: this.wall, mono: 5_000 }, ref: this.ref++, op, args, caller: { pid: 42, token: "t" }, pidStart: null,
    });
    this.state = result.state;
    this.changes = new Set(result.changes);
    for (const effect of result.effects) {
      if (effect.kind === "reply") return { result: effect.result };
      if (effect.kind === "reply-error") return { error: effect.code };
    }
    throw new Error(`no reply to ${op}`);
  }

  // The reply, or throws with the error code.
  ok(op: string, args: Record<string, unknown>): unknown {
    const reply = this.send(op, args);
    if (reply.error !== undefined) throw new Error(`${op}: ${reply.error}`);
    return reply.result;
  }

  error(op: string, args: Record<string, unknown>): string | undefined {
    return this.send(op, args).error;
  }

  open(name: string, limits: Record<string, number> = {}): { name: string; id: number } {
    const reply = this.ok("ckpt_open", { name, limits }) as { id: number };
    return { name, id: reply.id };
  }
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");
const text = (data: unknown): string => Buffer.from(String(data), "base64").toString();

describe("checkpoints in the core", () => {
  it("opens, writes, reads, lists, deletes and unlinks", () => {
    const ham = new Ham();
    const reply = ham.ok("ckpt_open", { name: "db" }) as { id: number; limits: unknown; created: boolean };
    expect(reply.created).toBe(true);
    expect(reply.limits).toEqual({ maxSections: Q.CKPT_DEFAULT_SECTIONS, maxSectionBytes: 1024 * 1024, maxBytes: 64 * 1024 * 1024 });
    const handle = { name: "db", id: reply.id };
    expect(ham.changes).toEqual(new Set(["k/db", "m"])); // the HAM-wide record carries the id counter
    expect(ham.ok("ckpt_write", { ...handle, section: "b", data: b64("second") })).toBe(0);
    expect(ham.ok("ckpt_write", { ...handle, section: "a", data: b64("first") })).toBe(0);
    // A write journals its one section.
    expect(ham.changes).toEqual(new Set(["s/db/a"]));
    expect(text(ham.ok("ckpt_read", { ...handle, section: "a" }))).toBe("first");
    ham.wall += 10;
    expect(ham.ok("ckpt_write", { ...handle, section: "a", data: b64("1st") })).toBe(0);
    expect(text(ham.ok("ckpt_read", { ...handle, section: "a" }))).toBe("1st");
    expect(ham.ok("ckpt_sections", handle)).toEqual({
      sections: [{ name: "a", size: 3, writtenMs: 1_000_010 }, { name: "b", size: 6, writtenMs: 1_000_000 }],
      bytes: 9, limits: reply.limits,
    });
    expect(ham.ok("ckpt_delete", { ...handle, section: "b" })).toBe(0);
    expect(ham.changes).toEqual(new Set(["s/db/b"]));
    expect(ham.error("ckpt_read", { ...handle, section: "b" })).toBe("ENOENT");
    expect(ham.error("ckpt_delete", { ...handle, section: "b" })).toBe("ENOENT");
    expect((ham.ok("ckpt_sections", handle) as { bytes: number }).bytes).toBe(3);
    // A read changes nothing.
    const before = ham.state.checkpoints;
    ham.ok("ckpt_read", { ...handle, section: "a" });
    expect(ham.state.checkpoints).toBe(before);
    expect(ham.changes.size).toBe(0);
    expect(ham.ok("ckpt_unlink", { name: "db" })).toBe(0);
    expect(ham.changes).toEqual(new Set(["k/db", "s/db/a"]));
    expect(ham.error("ckpt_unlink", { name: "db" })).toBe("ENOENT");
  });

  it("opens an existing checkpoint with its limits; other limits are EEXIST", () => {
    const ham = new Ham();
    const first = ham.open("db", { maxSections: 4 });
    ham.ok("ckpt_write", { ...first, section: "s", data: b64("x") });
    const again = ham.ok("ckpt_open", { name: "db" }) as { id: number; limits: { maxSections: number }; created: boolean };
    expect([again.id, again.limits.maxSections, again.created]).toEqual([first.id, 4, false]);
    expect(ham.ok("ckpt_open", { name: "db", limits: { maxSections: 4 } })).toMatchObject({ id: first.id });
    expect(ham.error("ckpt_open", { name: "db", limits: { maxSections: 5 } })).toBe("EEXIST");
    expect(text(ham.ok("ckpt_read", { ...first, section: "s" }))).toBe("x");
  });

  it("refuses a write over a limit and keeps the old value", () => {
    const ham = new Ham();
    const handle = ham.open("db", { maxSections: 2, maxSectionBytes: 8, maxBytes: 12 });
    ham.ok("ckpt_write", { ...handle, section: "a", data: b64("aaaaaaaa") });
    const cases: Array<[string, string, string]> = [
      ["a", "123456789", "E2BIG"], // over maxSectionBytes
      ["b", "12345", "ENOSPC"], // 8 + 5 > maxBytes
    ];
    for (const [section, value, code] of cases) {
      const before = ham.state;
      expect(ham.error("ckpt_write", { ...handle, section, data: b64(value) })).toBe(code);
      expect(ham.state).toBe(before);
      expect(ham.changes.size).toBe(0);
    }
    expect(text(ham.ok("ckpt_read", { ...handle, section: "a" }))).toBe("aaaaaaaa");
    expect(ham.error("ckpt_read", { ...handle, section: "b" })).toBe("ENOENT");
    // Replacing a section counts only the difference.
    ham.ok("ckpt_write", { ...handle, section: "a", data: b64("aa") });
    ham.ok("ckpt_write", { ...handle, section: "b", data: b64("bbbbbbbb") });
    expect(ham.error("ckpt_write", { ...handle, section: "c", data: b64("") })).toBe("ENOSPC"); // a third section
    ham.ok("ckpt_write", { ...handle, section: "b", data: b64("") });
    expect((ham.ok("ckpt_sections", handle) as { bytes: number }).bytes).toBe(2);
  });

  it("rejects bad names, bad bytes and bad limits", () => {
    const ham = new Ham();
    for (const name of ["", "a/b", ".hidden", 7]) expect(ham.error("ckpt_open", { name })).toBe("EINVAL");
    expect(ham.error("ckpt_open", { name: "x".repeat(256) })).toBe("ENAMETOOLONG");
    for (const limits of [{ maxSections: 0 }, { maxSectionBytes: 1024 * 1024 + 1 }, { maxBytes: 1.5 }, { maxBytes: "1" }]) {
      expect(ham.error("ckpt_open", { name: "db", limits })).toBe("EINVAL");
    }
    const handle = ham.open("db");
    for (const section of ["", "a/b", ".x"]) expect(ham.error("ckpt_write", { ...handle, section, data: b64("x") })).toBe("EINVAL");
    for (const data of ["not base64!", "eA", 12]) expect(ham.error("ckpt_write", { ...handle, section: "s", data })).toBe("EINVAL");
    expect(ham.state.checkpoints.get("db")?.sections.size).toBe(0);
  });

  it("answers EIDRM to a handle on an unlinked checkpoint, even when its name is made again", () => {
    const ham = new Ham();
    const old = ham.open("db");
    ham.ok("ckpt_unlink", { name: "db" });
    expect(ham.error("ckpt_read", { ...old, section: "s" })).toBe("EIDRM");
    const made = ham.open("db");
    expect(made.id).not.toBe(old.id);
    expect(ham.error("ckpt_write", { ...old, section: "s", data: b64("x") })).toBe("EIDRM");
    expect(ham.ok("ckpt_write", { ...made, section: "s", data: b64("x") })).toBe(0);
  });

  it("reads its records back: same sections, same bytes, ids not reused", () => {
    const ham = new Ham();
    const handle = ham.open("db", { maxSections: 3 });
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    ham.ok("ckpt_write", { ...handle, section: "big", data: bytes.toString("base64") });
    ham.ok("ckpt_write", { ...handle, section: "small", data: b64("hi") });
    ham.open("empty");
    const keys = stateKeys(ham.state).filter((key) => key.startsWith("k/") || key.startsWith("s/")).sort();
    expect(keys).toEqual(["k/db", "k/empty", "s/db/big", "s/db/small"]);
    const values = new Map(keys.map((key) => [key, recordOf(ham.state, key)]));
    const headers = [...values].filter(([key]) => key.startsWith("k/")).map(([, value]) => value);
    const sections = [...values].filter(([key]) => key.startsWith("s/")).map(([key, value]) => [key.split("/")[1], key.split("/")[2], value] as const);
    expect(headers.every(isCheckpointValue) && sections.every(([, , value]) => isSectionValue(value))).toBe(true);
    const base = initialState(2, 1, 2_000_000);
    const { state } = restoreState(base, {
      meta: null, entities: [], conditions: [], firings: [],
      checkpoints: headers.filter(isCheckpointValue),
      sections: sections.flatMap(([checkpoint, name, value]) => (isSectionValue(value) ? [[String(checkpoint), String(name), value] as const] : [])),
    });
    const back = new Ham();
    back.state = state;
    expect(Buffer.from(String(back.ok("ckpt_read", { ...handle, section: "big" })), "base64").equals(bytes)).toBe(true);
    expect(back.ok("ckpt_sections", handle)).toEqual(ham.ok("ckpt_sections", handle));
    ham.ok("ckpt_unlink", { name: "empty" });
    expect(back.open("other").id).toBeGreaterThan(handle.id);
  });
});

describe("all the checkpoints of a HAM", () => {
  it("refuse a write past the HAM-wide cap with ENOSPC, and keep what they hold", () => {
    const ham = new Ham();
    ham.open("big", { maxBytes: Q.CKPT_LIMIT_BYTES });
    const small = ham.open("small");
    // As if "big" held all but 2 bytes of the cap (filling it for real would take 1 GiB here).
    const big = ham.state.checkpoints.get("big");
    if (big === undefined) throw new Error("no big");
    ham.state = { ...ham.state, checkpoints: ham.state.checkpoints.set("big", { ...big, bytes: Q.CKPT_HAM_BYTES - 2 }) };
    expect(ham.error("ckpt_write", { ...small, section: "s", data: b64("abc") })).toBe("ENOSPC");
    expect(ham.ok("ckpt_write", { ...small, section: "s", data: b64("ab") })).toBe(0);
    expect(ham.error("ckpt_write", { ...small, section: "t", data: b64("c") })).toBe("ENOSPC");
    expect(Buffer.from(String(ham.ok("ckpt_read", { ...small, section: "s" })), "base64").toString()).toBe("ab");
  });
});

describe("checkpoint ids across a takeover", () => {
  it("keeps an unlinked checkpoint's id given: a handle on it is EIDRM after a takeover, even once the name is made again", () => {
    const ham = new Ham();
    ham.open("a");
    const stale = ham.open("b");
    // Making a checkpoint writes the HAM-wide record, which carries the id counter.
    expect(ham.changes.has("m")).toBe(true);
    const nextOrder = ham.state.meta.nextOrder;
    ham.ok("ckpt_unlink", { name: "b" });
    const keys = stateKeys(ham.state).filter((key) => key.startsWith("k/"));
    const back = new Ham();
    back.state = restoreState(initialState(2, 1, 2_000_000), {
      meta: { hamFailures: 0, guardianFailures: 0, verbosity: 1, nextFiringId: 1, nextOrder, nextChid: 1, spawnCount: 0, channels: [], config: { applied: [], global: [] } },
      entities: [], conditions: [], firings: [],
      checkpoints: keys.map((key) => recordOf(ham.state, key)).filter(isCheckpointValue),
      sections: [],
    }).state;
    back.open("b");
    expect(back.error("ckpt_read", { ...stale, section: "x" })).toBe("EIDRM");
  });
});

describe("checkpoint handles in the client", () => {
  it("rejects a closed handle or a non-handle with EBADF before asking the HAM", async () => {
    const closed = { kind: "checkpoint", runDir: "/nonexistent", name: "db", id: 1, limits: { maxSections: 1, maxSectionBytes: 1, maxBytes: 1 }, closed: true } as const;
    const calls = [
      Q.ckpt_write({ ...closed }, "s", "x"), Q.ckpt_read({ ...closed }, "s"), Q.ckpt_delete({ ...closed }, "s"),
      Q.ckpt_sections({ ...closed }), Q.ckpt_close({ ...closed }), Q.ckpt_read({} as never, "s"),
    ];
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: "EBADF", errno: 9 });
  });

  it("has E2BIG and ENOSPC with their errno numbers", () => {
    expect([new Q.HamError("E2BIG", "x").errno, new Q.HamError("ENOSPC", "x").errno]).toEqual([7, 28]);
  });
});
