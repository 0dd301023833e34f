import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { cleanup, FIXTURES, startHam, track } from "../helpers/ham-instance.js";
import { killHam } from "../helpers/takeover.js";

// Checkpoints on a real HAM: the bytes survive the death of their writer and a takeover of
// the HAM, and any client of the HAM reads them.

const handles: ham.ckpt_handle_t[] = [];

afterEach(async () => {
  for (const handle of handles.splice(0)) if (!handle.closed) await ham.ckpt_close(handle).catch(() => undefined);
  await cleanup();
});

// Runs test/fixtures/checkpoint-client.mjs; resolves to its JSON line (section → sha256).
function client(runDir: string, args: readonly string[]): { pid: number; output: Promise<Record<string, string>> } {
  const child = spawn(process.execPath, [join(FIXTURES, "checkpoint-client.mjs"), ...args], {
    stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: runDir },
  });
  track(child.pid ?? 0);
  let out = "";
  const output = new Promise<Record<string, string>>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(JSON.parse(out) as Record<string, string>);
    });
    child.on("exit", (code) => reject(new Error(`checkpoint client exited with ${code} before answering`)));
  });
  return { pid: child.pid ?? 0, output };
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())]);

describe("checkpoints", () => {
  it("a standby reads the active's sections after the active and the HAM were SIGKILLed", async () => {
    const instance = await startHam();
    const active = client(instance.runDir, ["write", "db", "0", "1", "1000", "65536", String(1024 * 1024)]);
    const written = await within(active.output, 20_000, "the active's writes");
    process.kill(active.pid, "SIGKILL");
    const { before, after } = await killHam(instance);
    expect(after.hamPid).toBe(before.guardianPid);
    const standby = client(instance.runDir, ["read", "db"]);
    expect(await within(standby.output, 20_000, "the standby's reads")).toEqual(written);
  });

  it("round-trips a 1 MiB section through a handle that outlives a takeover; over a limit nothing is lost", async () => {
    const instance = await startHam();
    const handle = await ham.ckpt_open_node("state", instance.runDir, { maxSections: 3, maxBytes: 2 * 1024 * 1024 + 8 });
    handles.push(handle);
    expect(handle.limits).toEqual({ maxSections: 3, maxSectionBytes: 1024 * 1024, maxBytes: 2 * 1024 * 1024 + 8 });
    const big = randomBytes(1024 * 1024);
    await ham.ckpt_write(handle, "big", big);
    expect((await ham.ckpt_read(handle, "big")).equals(big)).toBe(true);
    await expect(ham.ckpt_write(handle, "big", randomBytes(1024 * 1024 + 1))).rejects.toMatchObject({ code: "E2BIG", errno: 7 });
    await ham.ckpt_write(handle, "big2", big);
    await expect(ham.ckpt_write(handle, "one-more", "9 bytes..")).rejects.toMatchObject({ code: "ENOSPC", errno: 28 });
    await ham.ckpt_write(handle, "small", new Uint8Array([1, 2, 3]));
    await expect(ham.ckpt_write(handle, "fourth", "")).rejects.toMatchObject({ code: "ENOSPC" });
    await killHam(instance);
    // The same handle goes on: its session reconnected to the HAM that took over.
    expect((await ham.ckpt_read(handle, "big")).equals(big)).toBe(true);
    expect(await ham.ckpt_sections(handle)).toEqual([
      { name: "big", size: 1024 * 1024, writtenMs: expect.any(Number) as number },
      { name: "big2", size: 1024 * 1024, writtenMs: expect.any(Number) as number },
      { name: "small", size: 3, writtenMs: expect.any(Number) as number },
    ]);
    // The /ham view shows it (hamctl cat, the FUSE mount).
    expect(await instance.field("/.checkpoints/state/.info", "Num Sections")).toBe("3");
    expect(await instance.field("/.checkpoints/state/.info", "Max Bytes")).toBe(String(2 * 1024 * 1024 + 8));
    await ham.ckpt_delete(handle, "big2");
    await ham.ckpt_write(handle, "text", "hello");
    expect((await ham.ckpt_read(handle, "text")).toString()).toBe("hello");
    await expect(ham.ckpt_read(handle, "big2")).rejects.toMatchObject({ code: "ENOENT" });
    // Another handle on the same checkpoint; closing one leaves the data and the other.
    const other = await ham.ckpt_open_node("state", instance.runDir);
    handles.push(other);
    await ham.ckpt_close(other);
    await expect(ham.ckpt_read(other, "text")).rejects.toMatchObject({ code: "EBADF" });
    await expect(ham.ckpt_close(other)).rejects.toMatchObject({ code: "EBADF" });
    expect((await ham.ckpt_read(handle, "small")).equals(Buffer.from([1, 2, 3]))).toBe(true);
    await expect(ham.ckpt_open_node("state", instance.runDir, { maxSections: 4 })).rejects.toMatchObject({ code: "EEXIST" });
    await ham.ckpt_unlink_node("state", instance.runDir);
    await expect(ham.ckpt_read(handle, "small")).rejects.toMatchObject({ code: "EIDRM" });
    await expect(instance.cat("/.checkpoints/state/.info")).rejects.toMatchObject({ code: "ENOENT" });
    await expect(ham.ckpt_unlink_node("state", instance.runDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a section past maxSectionBytes is E2BIG whatever its size, even past the HAM's frame limit; the checkpoint is unchanged", async () => {
    const instance = await startHam();
    const small = await ham.ckpt_open_node("small", instance.runDir, { maxSectionBytes: 16 });
    handles.push(small);
    expect(small.limits.maxSectionBytes).toBe(16);
    await ham.ckpt_write(small, "kept", "sixteen bytes..!");
    for (const bytes of [randomBytes(17), randomBytes(2 * 1024 * 1024), "x".repeat(17)]) {
      await expect(ham.ckpt_write(small, "kept", bytes)).rejects.toMatchObject({ code: "E2BIG", errno: 7 });
      await expect(ham.ckpt_write(small, "absent", bytes)).rejects.toMatchObject({ code: "E2BIG", errno: 7 });
    }
    // A checkpoint with the default limits (1 MiB sections): 2 MiB is E2BIG too, not EMSGSIZE.
    const wide = await ham.ckpt_open_node("wide", instance.runDir);
    handles.push(wide);
    await expect(ham.ckpt_write(wide, "big", randomBytes(2 * 1024 * 1024))).rejects.toMatchObject({ code: "E2BIG" });
    await expect(ham.ckpt_write(wide, "big", randomBytes(1024 * 1024 + 1))).rejects.toMatchObject({ code: "E2BIG" });
    // The HAM still answers, on the same handles, and kept nothing of the refused writes.
    expect((await ham.ckpt_read(small, "kept")).toString()).toBe("sixteen bytes..!");
    await expect(ham.ckpt_read(small, "absent")).rejects.toMatchObject({ code: "ENOENT" });
    expect(await ham.ckpt_sections(small)).toEqual([{ name: "kept", size: 16, writtenMs: expect.any(Number) as number }]);
    expect(await ham.ckpt_sections(wide)).toEqual([]);
    await ham.ckpt_write(wide, "big", randomBytes(1024 * 1024));
    expect(await instance.field("/.checkpoints/small/.info", "Num Sections")).toBe("1");
  });
});
