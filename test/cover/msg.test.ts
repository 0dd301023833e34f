import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChannelCreate, ConnectAttach, ConnectDetach, ha_ConnectAttach, ha_ConnectDetach, ha_ReConnectAttach, ha_recoveries, MsgSend,
} from "../../dist/lib/cover/index.js";
import { eventually, FIXTURES } from "../helpers/ham-instance.js";

// Covered message connections against a real service process that is SIGKILLed and started
// again (S10's shape: the client goes on sending and every request gets its reply).
const servers: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function startServer(path: string, log: string): Promise<ChildProcess> {
  const server = spawn(process.execPath, [join(FIXTURES, "double-server.mjs"), path, log], { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(server);
  await eventually(() => server.stdout?.read() !== null, 10_000, "the service");
  return server;
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "hamd-msg-"));
  dirs.push(dir);
  return { path: join(dir, "double.sock"), log: join(dir, "handled") };
}

// Connect again once the service answers (a restarted server needs a moment).
const reconnect = async (coid: number, state: { recoveries: number }) => {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    if ((await ha_ReConnectAttach(coid)) === coid) {
      state.recoveries += 1;
      return coid;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return -1;
};

describe("ha_ConnectAttach and MsgSend", () => {
  it("answers every request across a kill and restart of the service, none lost", async () => {
    const { path, log } = setup();
    const server = await startServer(path, log);
    const state = { recoveries: 0 };
    const coid = await ha_ConnectAttach(path, reconnect, state);
    const replies: unknown[] = [];
    for (let n = 1; n <= 200; n += 1) {
      if (n === 100) {
        server.kill("SIGKILL");
        await eventually(() => server.exitCode !== null || server.signalCode !== null, 5_000, "the service gone");
        setTimeout(() => void startServer(path, log), 200);
      }
      replies.push(await MsgSend(coid, n));
    }
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => (i + 1) * 2));
    expect(state.recoveries).toBe(1);
    expect(ha_recoveries(coid)).toBe(1);
    const handled = readFileSync(log, "utf8").split("\n").filter(Boolean).map(Number);
    for (let n = 1; n <= 200; n += 1) expect(handled).toContain(n);
    expect(handled.length - 200).toBeLessThanOrEqual(1); // at least once across a restart
    ha_ConnectDetach(coid);
  });

  it("gives a plain connection the error when its service dies, and a recovery that gives up too", async () => {
    const { path, log } = setup();
    const server = await startServer(path, log);
    const plain = await ConnectAttach(path);
    const covered = await ha_ConnectAttach(path, () => -1, null);
    expect(await MsgSend(plain, 21)).toBe(42);
    server.kill("SIGKILL");
    await eventually(() => server.exitCode !== null || server.signalCode !== null, 5_000, "the service gone");
    await expect(MsgSend(plain, 1)).rejects.toMatchObject({ code: "EBADF" });
    await expect(MsgSend(covered, 1)).rejects.toMatchObject({ code: "EBADF" });
    expect(existsSync(path)).toBe(true); // the dead server's socket file; a new server replaces it
    await startServer(path, log);
    ConnectDetach(plain);
    ha_ConnectDetach(covered);
  });

  it("forgets a client's remembered replies once its connection is closed and nothing of it is pending", async () => {
    const { path } = setup();
    const channel = await ChannelCreate(path, (message) => Number(message) + 1);
    try {
      for (let client = 0; client < 50; client += 1) {
        const coid = await ConnectAttach(path);
        expect(await MsgSend(coid, client)).toBe(client + 1);
        ConnectDetach(coid);
      }
      const kept = await ConnectAttach(path);
      expect(await MsgSend(kept, 1)).toBe(2);
      // Only the client still connected is remembered (each closed one within moments).
      await eventually(() => channel.rememberedClients() === 1, 5_000, "closed clients forgotten");
      ConnectDetach(kept);
      await eventually(() => channel.rememberedClients() === 0, 5_000, "the last client forgotten");
    } finally {
      channel.close();
    }
  });
});
