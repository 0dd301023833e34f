import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/ham-instance.js";
import { pidsWithEnv } from "../helpers/processes.mjs";
import { NO_FUSE, REQUIRE_FUSE, requiredLine } from "../helpers/fuse.js";

// The fault lab, briefly, with fixed seeds: a real HAM under its default load (smaller) and
// random faults; it must find no violation and leave nothing behind. Then its service group
// alone under its own faults.
const LAB_BIN = join(ROOT, "dist/lab/main.js");
// Without FUSE the lab runs without its /ham view, so a fresh machine still runs it; under
// HAMD_REQUIRE_FUSE=1 a missing FUSE fails the runs instead.
const MOUNT_ARGS = NO_FUSE === null ? [] : ["--no-mount"];
if (NO_FUSE !== null && !REQUIRE_FUSE) console.warn(`ham-lab runs with --no-mount: no FUSE here: ${NO_FUSE}. Install: apt-get install libfuse2 fuse3`);

function runLab(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAB_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("ham-lab", () => {
  for (const seed of [8, 21]) {
    it(`finds no violation with seed ${seed} and ends everything it started`, async () => {
      if (NO_FUSE !== null && REQUIRE_FUSE) throw new Error(requiredLine(NO_FUSE));
      const { code, stdout, stderr } = await runLab(["--seed", String(seed), "--seconds", "15", "--entities", "10", "--clients", "3", "--json", ...MOUNT_ARGS]);
      const report = JSON.parse(stdout) as { violations: unknown[]; checks: number; faults: Record<string, number>; runDir: string; group: { judged: number } | null };
      // A failed run keeps its directory (its activity log) for a person: the test says what
      // was violated, then removes it.
      try {
        expect(report.violations).toEqual([]);
      } finally {
        if (report.violations.length > 0) rmSync(report.runDir, { recursive: true, force: true });
      }
      expect(stderr).toBe("");
      // Its service group took roles (the first active at least was judged).
      expect(report.group?.judged).toBeGreaterThan(0);
      expect(code).toBe(0);
      expect(report.checks).toBeGreaterThan(0);
      expect(Object.values(report.faults).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(5);
      // Nothing is left: no process of its run directory, no mount, no directory.
      expect(pidsWithEnv(`HAM_RUN_DIR=${report.runDir}`)).toEqual([]);
      expect(readFileSync("/proc/mounts", "utf8")).not.toContain(report.runDir);
      expect(existsSync(report.runDir)).toBe(false);
    }, 120_000);
  }

  it("fails its service group over and over with at most one active, and an active again in time", async () => {
    if (NO_FUSE !== null && REQUIRE_FUSE) throw new Error(requiredLine(NO_FUSE));
    const { code, stdout, stderr } = await runLab(["--seed", "5", "--seconds", "12", "--entities", "5", "--clients", "2", "--json",
      "--faults", "kill-active,fatal-active,kill-active-and-ham,switchover", ...MOUNT_ARGS]);
    expect(stderr).toBe("");
    const report = JSON.parse(stdout) as { violations: unknown[]; faults: Record<string, number>; group: { failoversSeen: number; hamFailovers: number; judged: number } };
    expect(report.violations).toEqual([]);
    expect(code).toBe(0);
    expect(report.faults["kill-active"]).toBeGreaterThan(0);
    expect(report.faults["fatal-active"]).toBeGreaterThan(0);
    expect(report.group.failoversSeen).toBeGreaterThan(3);
    expect(report.group.hamFailovers).toBeGreaterThanOrEqual(report.group.failoversSeen);
    expect(report.group.judged).toBeGreaterThan(report.group.failoversSeen);
  }, 120_000);

  it("rejects an unknown option with its usage and exit 2", async () => {
    const { code, stderr } = await runLab(["--bogus"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option --bogus");
    expect(stderr).toContain("usage: ham-lab");
    expect(existsSync(LAB_BIN)).toBe(true);
  });
});
