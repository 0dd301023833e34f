import { afterEach, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { eventually, ROOT, unmountUnder } from "../helpers/ham-instance.js";
import { describeWithFuse } from "../helpers/fuse.js";
import { pidsWithEnv } from "../helpers/processes.mjs";

let run: ChildProcess | null = null;
let base = "";
const runDirOf = (dir: string) => join(dir, "run");
const mountsUnder = (dir: string) => readFileSync("/proc/mounts", "utf8").split("\n").filter((line) => line.split(" ")[1]?.startsWith(`${dir}/`));

// Whatever a failed or timed-out run left: run.mjs itself, then every process it started (HAM,
// Guardian, servers, their fusermount helpers, client: all carry HAM_RUN_DIR), mounts, state.
afterEach(async () => {
  if (run !== null && run.exitCode === null && run.signalCode === null) run.kill("SIGKILL");
  run = null;
  if (base === "") return;
  const entry = `HAM_RUN_DIR=${runDirOf(base)}`;
  // A Guardian may take over (and fork another) while its HAM is killed: sweep until none is left.
  await eventually(() => {
    const pids = pidsWithEnv(entry);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    return pids.length === 0;
  }, 10_000, "the run's processes gone").catch(() => undefined);
  unmountUnder(base);
  rmSync(base, { recursive: true, force: true });
  rmSync(stateDirOf(runDirOf(base)), { recursive: true, force: true });
  base = "";
});

// The seed's scenario, run as a user runs it: a HAM supervises a FUSE file server with a
// multistage recovery; a client reads through ha_open/ha_dup while the server is SIGKILLed.
describeWithFuse("examples/nfs-recovery", () => {
  it("reads the whole file, in order, across the server's death, with one recovery, and leaves nothing behind", async () => {
    base = mkdtempSync(join(tmpdir(), "hamd-nfs-"));
    const child = spawn(process.execPath, [join(ROOT, "examples/nfs-recovery/run.mjs"), base], { stdio: ["ignore", "pipe", "pipe"] });
    run = child;
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const both = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
    // "close": every holder of its output (the HAM, the servers) has ended too. A run that
    // hangs fails with its output, before the test's own timeout.
    const status = await Promise.race([
      new Promise((resolve) => child.once("close", resolve)),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the run did not end in 25 s\n${both()}`)), 25_000).unref()),
    ]);
    expect(stdout, both()).toContain("killing the nfs server");
    expect(stdout, both()).toContain("read 4000000 bytes, all in order; total recoveries, 1");
    expect(stderr, both()).toContain("nfs server restarted and mounted");
    expect(status, both()).toBe(0);
    await eventually(() => pidsWithEnv(`HAM_RUN_DIR=${runDirOf(base)}`).length === 0, 5_000, "no process of the run left");
    expect(mountsUnder(base)).toEqual([]);
  });
});
