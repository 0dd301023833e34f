import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { cleanup, eventually, FIXTURES, isAlive, startHam, tempDir, track } from "../helpers/ham-instance.js";

// Fault severities are opt-in: a raise on an entity in no group, with no fault policy, only
// fires its CONDRAISE conditions, whatever the severity (QNX's meaning).

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

describe("fault severities", () => {
  it("a self-attached process that raises severities 0 to 5 on itself lives on, and each of its filters fires", async () => {
    const instance = await startHam();
    const dir = tempDir("raises");
    const client = spawn(process.execPath, [join(FIXTURES, "raise-severities.mjs"), "raiser", dir], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
    });
    const pid = track(client.pid ?? 0);
    await eventually(() => String(client.stdout?.read() ?? "").includes("raised"), 10_000, "the raises");
    const severities = [0, 1, 2, 3, 4, 5];
    await eventually(() => severities.every((severity) => existsSync(join(dir, `fired-${severity}`))), 5_000, "every severity's condition to fire");
    for (const severity of severities) {
      expect(await instance.field(`/raiser/severity-${severity}/.info`, "Times Fired")).toBe("1");
      expect(await instance.field(`/raiser/severity-${severity}/note`, "Runs")).toBe("1");
    }
    expect(await instance.field("/raiser/any/.info", "Times Fired")).toBe("6");
    await eventually(async () => (await instance.field("/raiser/any/note", "Runs")) === "6", 5_000, "the catch-all's six runs");
    // Still there, the same process, still attached; the HAM answered no fault.
    expect(isAlive(pid)).toBe(true);
    expect(client.exitCode).toBe(null);
    expect(await instance.field("/raiser/.info", "Entity Pid")).toBe(String(pid));
    expect(await instance.field("/raiser/.info", "Entity type")).toBe("ATTACHEDSELF");
    expect(instance.logLines().filter((line) => line["event"] === "fault")).toEqual([]);
  });
});
