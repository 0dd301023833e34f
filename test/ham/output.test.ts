import { afterEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { cleanup, entityPid, eventually, isAlive, startHam } from "../helpers/ham-instance.js";
import { killHam } from "../helpers/takeover.js";

// Each entity's stdout and stderr go to files of its own under the run directory, kept under a
// size with rotated copies, and a process keeps writing across a takeover.

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

const size = (path: string): number => (existsSync(path) ? statSync(path).size : -1);

describe("service output", () => {
  it("keeps an entity's stdout and stderr in its own files, never in the activity log", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    await ham.ham_attach("talker", 0, -1, `/bin/sh -c "echo hello out; echo hello err >&2; exec sleep 1000"`, 0);
    const out = join(instance.runDir, "output", "talker.out");
    const err = join(instance.runDir, "output", "talker.err");
    await eventually(() => existsSync(out) && readFileSync(out, "utf8").includes("hello out"), 5_000, "stdout in its file");
    await eventually(() => existsSync(err) && readFileSync(err, "utf8").includes("hello err"), 5_000, "stderr in its file");
    // The activity log names the command line at -V3, never the output itself.
    expect(readFileSync(instance.logFile, "utf8").split("\n").filter((line) => line.includes("hello out") && !line.includes("echo"))).toEqual([]);
  });

  it("goes on writing across a takeover: the same process, the same file, no SIGPIPE", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    await ham.ham_attach("ticker", 0, -1, `/bin/sh -c "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"`, 0);
    const out = join(instance.runDir, "output", "ticker.out");
    await eventually(() => size(out) > 0, 5_000, "the first ticks");
    const pid = await entityPid(instance, "ticker");
    await killHam(instance);
    const after = size(out);
    await eventually(() => size(out) > after + 20, 5_000, "ticks written after the takeover");
    expect(isAlive(pid)).toBe(true);
    expect(await entityPid(instance, "ticker")).toBe(pid);
  });

  it("rotates a file past its entity's maxBytes, keeping `files` in all", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    const entity = await ham.ham_entity("chatty", 0, 0);
    await ham.ham_entity_policy(entity, { output: { maxBytes: 8192, files: 2 } });
    await ham.ham_attach("chatty", 0, -1, `/bin/sh -c "while true; do echo 0123456789012345678901234567890123456789; sleep 0.002; done"`, 0);
    const out = join(instance.runDir, "output", "chatty.out");
    await eventually(() => size(`${out}.1`) > 8192, 10_000, "a rotated copy");
    // Bounded: the live file is emptied at each rotation, and nothing past `files` is kept.
    await eventually(() => size(out) < 8192 * 4, 5_000, "the live file kept small");
    expect(existsSync(`${out}.2`)).toBe(false);
    await expect(ham.ham_entity_policy(entity, { output: { maxBytes: 10, files: 2 } })).rejects.toMatchObject({ code: "EINVAL" });
  });
});
