import { afterEach, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ha_close, ha_connection_ctrl, ha_dup, ha_attach, ha_open, ha_read, ha_recoveries, ha_reopen, ha_lseek,
  HA_RECOVERY_ACOUNT, HA_RECOVERY_ENABLE, HA_RECOVERY_SUSPEND, HAREPLACERECOVERYFN,
} from "../../dist/lib/cover/index.js";
import { eventually, ROOT, unmountUnder } from "../helpers/ham-instance.js";
import { describeWithFuse } from "../helpers/fuse.js";

// HA file handles against a real FUSE file server that is SIGKILLed and started again: reads
// past the kernel's cache then fail with ENOTCONN, the connection-gone error of a dead server.
const SIZE = 4_000_000;
const servers: ChildProcess[] = [];
const restarts: Array<Promise<unknown>> = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.allSettled(restarts.splice(0));
  for (const server of servers.splice(0)) server.kill("SIGKILL");
  for (const dir of dirs.splice(0)) {
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

// A server started while the kernel still drops the dead one's mount fails ("Mountpoint in
// use") and exits: start it again, as a supervisor would.
async function startServer(mnt: string): Promise<ChildProcess> {
  for (let attempt = 0; ; attempt += 1) {
    const server = spawn(process.execPath, [join(ROOT, "examples/nfs-recovery/server.cjs"), mnt, String(SIZE)], { stdio: ["ignore", "pipe", "ignore"] });
    servers.push(server);
    const up = await eventually(() => server.stdout?.read() !== null || server.exitCode !== null, 10_000, "the file server");
    if (up === true && server.exitCode === null) return server;
    if (attempt >= 100) throw new Error("the file server does not start");
    spawnSync("fusermount", ["-u", "-z", mnt]); // a dead mount the kernel has not dropped yet
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function setup(): Promise<{ mnt: string; data: string; server: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), "hamd-cover-"));
  dirs.push(dir);
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  return { mnt, data: join(mnt, "data"), server: await startServer(mnt) };
}

// A dead server's fd fails with ENOTCONN, or ECONNABORTED for an operation caught in flight.
const GONE = expect.stringMatching(/^(ENOTCONN|ECONNABORTED)$/);
const expected = (from: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => (from + i) % 251));

// The seed's recovery: wait for the server's file to be back, open it again.
function reopenWhenBack(path: string) {
  return async (handle: number, state: { recoveries: number }) => {
    await eventually(() => existsSync(path), 15_000, "the file back");
    state.recoveries += 1;
    return ha_reopen(handle, path, "r");
  };
}

async function killAndRestart(server: ChildProcess, mnt: string): Promise<void> {
  server.kill("SIGKILL");
  await eventually(() => !existsSync(join(mnt, "data")), 5_000, "the file gone");
  restarts.push(new Promise((resolve) => setTimeout(resolve, 200)).then(() => startServer(mnt)));
}

describeWithFuse("ha_open and friends over a server that dies", () => {
  it("reads a file to its last byte across a server kill: nothing repeated, nothing missing (S9)", async () => {
    const { mnt, data, server } = await setup();
    const state = { recoveries: 0 };
    const handle = await ha_open(data, "r", reopenWhenBack(data), state);
    const dup = ha_dup(handle);
    const out = Buffer.alloc(SIZE);
    let at = 0;
    let killed = false;
    while (at < SIZE) {
      // Alternate between the handle and its dup: they share the position.
      const bytes = await ha_read(at % 2 === 0 ? handle : dup, out, at, Math.min(65_536, SIZE - at));
      if (bytes === 0) break;
      at += bytes;
      if (!killed && at >= SIZE / 2) {
        killed = true;
        await killAndRestart(server, mnt);
      }
    }
    expect(at).toBe(SIZE);
    expect(out.equals(expected(0, SIZE))).toBe(true);
    expect(state.recoveries).toBeGreaterThanOrEqual(1);
    expect(ha_recoveries(dup)).toBe(state.recoveries);
    await ha_close(handle);
    await ha_close(dup);
  });

  it("S10: a recovery that reopens and seeks to its saved offset continues without repeat or gap; a plain fd fails", async () => {
    const { mnt, data, server } = await setup();
    const hdl = { nr: 0, currOffset: 0 };
    const fd = await ha_open(data, "r", async (handle: number, state: typeof hdl) => {
      await eventually(() => existsSync(data), 15_000, "the file back");
      const newfd = await ha_reopen(handle, data, "r");
      await ha_lseek(handle, state.currOffset);
      state.nr += 1;
      return newfd;
    }, hdl);
    const fd2 = openSync(data, "r"); // plain, not HA-aware
    const piece = Buffer.alloc(15);
    expect(await ha_read(fd, piece)).toBe(15);
    expect(piece.equals(expected(0, 15))).toBe(true);
    // Past what the kernel read ahead, so the next read really goes to the server.
    hdl.currOffset = await ha_lseek(fd, 2_000_000);
    const fd3 = ha_dup(fd);
    await killAndRestart(server, mnt);
    expect(await ha_read(fd, piece)).toBe(15);
    expect(piece.equals(expected(2_000_000, 15))).toBe(true);
    expect(() => readSync(fd2, Buffer.alloc(15), 0, 15, 3_000_000)).toThrow(/ENOTCONN|ECONNABORTED/);
    expect(hdl.nr).toBe(1);
    expect(await ha_read(fd3, piece)).toBe(15); // the dup shares the position
    expect(piece.equals(expected(2_000_015, 15))).toBe(true);
    await ha_close(fd);
    await ha_close(fd3);
    try {
      closeSync(fd2);
    } catch {
      // a dead server's fd fails to close too
    }
  });

  it("gives the original error when the recovery returns -1, throws, or has no limit left", async () => {
    const { data, server } = await setup();
    const giveUp = await ha_open(data, "r", () => -1, null);
    const thrower = await ha_open(data, "r", () => {
      throw new Error("no server");
    }, null);
    const limited = await ha_open(data, "r", reopenWhenBack(data), { recoveries: 0 });
    ha_connection_ctrl(limited, HA_RECOVERY_ACOUNT, 0);
    server.kill("SIGKILL");
    for (const handle of [giveUp, thrower, limited]) {
      await expect(ha_read(handle, Buffer.alloc(4096), 0, 4096, 2_000_000)).rejects.toMatchObject({ code: GONE });
      await ha_close(handle);
    }
  });

  it("does not recover while suspended, and does again once enabled; a plain fd just fails", async () => {
    const { mnt, data, server } = await setup();
    const state = { recoveries: 0 };
    const handle = await ha_open(data, "r", reopenWhenBack(data), state);
    const plain = openSync(data, "r");
    ha_connection_ctrl(handle, HA_RECOVERY_SUSPEND);
    await killAndRestart(server, mnt);
    await expect(ha_read(handle, Buffer.alloc(4096), 0, 4096, 1_000_000)).rejects.toMatchObject({ code: GONE });
    expect(() => readSync(plain, Buffer.alloc(4096), 0, 4096, 1_000_000)).toThrow(/ENOTCONN|ECONNABORTED/);
    try {
      closeSync(plain);
    } catch {
      // closing an fd of a dead FUSE server fails with ENOTCONN too
    }
    ha_connection_ctrl(handle, HA_RECOVERY_ENABLE);
    const buffer = Buffer.alloc(4096);
    expect(await ha_read(handle, buffer, 0, 4096, 1_000_000)).toBe(4096);
    expect(buffer.equals(expected(1_000_000, 4096))).toBe(true);
    expect(state.recoveries).toBe(1);
    await ha_close(handle);
  });

  it("replaces the recovery function through a dup for both, and recovers once for concurrent reads", async () => {
    const { mnt, data, server } = await setup();
    const first = { recoveries: 0 };
    const second = { recoveries: 0 };
    const handle = await ha_open(data, "r", reopenWhenBack(data), first);
    const dup = ha_dup(handle);
    ha_attach(dup, reopenWhenBack(data), second, HAREPLACERECOVERYFN);
    await ha_lseek(handle, 3_000_000);
    await killAndRestart(server, mnt);
    const buffers = [0, 1, 2, 3].map(() => Buffer.alloc(4096));
    const reads = buffers.map((buffer, i) => ha_read(i % 2 === 0 ? handle : dup, buffer, 0, 4096, 2_000_000 + i * 100_000));
    expect(await Promise.all(reads)).toEqual([4096, 4096, 4096, 4096]);
    buffers.forEach((buffer, i) => expect(buffer.equals(expected(2_000_000 + i * 100_000, 4096))).toBe(true));
    expect([first.recoveries, second.recoveries]).toEqual([0, 1]);
    expect(await ha_lseek(dup, 0, 1)).toBe(3_000_000);
    await ha_close(handle);
    await ha_close(dup);
  });
});
