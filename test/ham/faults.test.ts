import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { Session } from "../../dist/lib/client/session.js";
import { StateStore, StoreReader, stateDirOf } from "../../dist/ham/adapters/store.js";
import { cleanup, entityPid, eventually, HAM_BIN, HAMCTL_BIN, isAlive, killRunDir, startHam } from "../helpers/ham-instance.js";
import { pidsWithEnv } from "../helpers/processes.mjs";
import { attachSleeper, guardianReady, killHam, processesOf, status } from "../helpers/takeover.js";

// What the fault lab found (issue 8), each pinned by a test at its worst moment.

const daemons: string[] = [];

async function catOf(runDir: string, path: string): Promise<string> {
  const session = await Session.open(runDir);
  try {
    return String(await session.request("cat", { path }));
  } finally {
    session.close();
  }
}

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
  // HAMs started by the `ham` bin itself: ham_stop (the Guardian, then the HAM), then every
  // process still carrying the run directory, until none is left.
  for (const runDir of daemons.splice(0)) {
    const now = await status(runDir).catch(() => null);
    const stopped = spawnSync(HAMCTL_BIN, ["--run-dir", runDir, "stop"], { timeout: 5_000 });
    if (now !== null && now.hamPid > 0) await eventually(() => !isAlive(now.hamPid), 5_000, "the HAM stopped").catch(() => undefined);
    if (stopped.status !== 0 && now !== null && isAlive(now.hamPid)) process.kill(now.hamPid, "SIGKILL");
    await killRunDir(runDir);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(stateDirOf(runDir), { recursive: true, force: true });
  }
});

describe("faults at the worst moment", () => {
  it("ham returns only once a ready Guardian stands behind the HAM", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "hamd-test-"));
    daemons.push(runDir);
    const started = spawnSync(HAM_BIN, ["--run-dir", runDir, "--no-mount"], { encoding: "utf8", timeout: 20_000 });
    expect(started.stderr).toBe("");
    expect(started.status).toBe(0);
    const now = await status(runDir);
    expect(now.guardianPid).toBeGreaterThan(0);
    expect(isAlive(now.guardianPid)).toBe(true);
  });

  it("a HAM whose terminal goes away (EPIPE on its log) goes on supervising and counts the lost lines", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "hamd-test-"));
    daemons.push(runDir);
    const child = spawn(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", runDir, "-v"], { stdio: ["ignore", "ignore", "pipe"] });
    await eventually(async () => (await status(runDir).catch(() => null))?.guardianPid, 10_000, "the HAM to be protected");
    child.stderr?.destroy();
    process.env["HAM_RUN_DIR"] = runDir;
    await attachSleeper("noisy");
    const pid = Number(/Entity Pid *: (\d+)/.exec(await catOf(runDir, "/noisy/.info"))?.[1] ?? 0);
    process.kill(pid, "SIGKILL");
    const after = await eventually(async () => {
      const now = (await status(runDir)) as Awaited<ReturnType<typeof status>> & { logWriteFailures: number };
      const next = Number(/Entity Pid *: (\d+)/.exec(await catOf(runDir, "/noisy/.info"))?.[1] ?? 0);
      return next > 0 && next !== pid ? now : null;
    }, 5_000, "the restart, logged into a closed pipe");
    expect(after.hamPid).toBe(child.pid);
    expect(after.logWriteFailures).toBeGreaterThan(0);
    expect(child.exitCode).toBe(null);
  });

  it("a HAM killed right after a takeover, while its own Guardian starts, is taken over by that Guardian", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("inetd");
    const pid = await entityPid(instance, "inetd");
    const { after } = await killHam(instance);
    // The new HAM's Guardian is still loading now.
    expect(after.guardianPid).toBe(0);
    process.kill(after.hamPid, "SIGKILL");
    const third = await eventually(async () => {
      const now = await status(instance.runDir).catch(() => null);
      return now !== null && now.hamPid !== after.hamPid && now.guardianPid > 0 ? now : null;
    }, 10_000, "the starting Guardian to take over");
    expect(third.hamFailures).toBe(2);
    expect(processesOf(instance.runDir, "inetd")).toEqual([pid]);
    expect(await instance.field("/inetd/.info", "Entity Pid")).toBe(String(pid));
  });

  it("an entity that dies while no HAM watches, inside its backoff window, is restarted by the HAM that takes over, not removed", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    // The default policy: a process that dies within 1 s of its start is restarted after a backoff.
    const entity = await ham.ham_attach("young", 0, -1, "/bin/sleep 1000", 0);
    const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(death, "restart", "/bin/sleep 1000", ham.HREARMAFTERRESTART);
    const pid = await entityPid(instance, "young");
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGKILL");
    process.kill(pid, "SIGKILL"); // dies while no HAM watches
    const next = await eventually(async () => {
      const now = await entityPid(instance, "young").catch(() => 0);
      return now > 0 && now !== pid ? now : 0;
    }, 10_000, "the restart after the backoff");
    expect(processesOf(instance.runDir, "young")).toEqual([next]);
    expect(await instance.field("/young/.info", "Num Restarts")).toBe("1");
    expect(await instance.field("/young/.info", "Num Deaths")).toBe("1");
  });

  it("a HAM killed right after a restart spawned a process, before its pid was journaled: the takeover adopts that process, no duplicate", async () => {
    const instance = await startHam([], { HAMD_FAILPOINT: "after-restart-spawn:svc" });
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("svc");
    const first = await entityPid(instance, "svc");
    const before = await guardianReady(instance.runDir);
    process.kill(first, "SIGKILL"); // the HAM restarts it, then dies at the fail point
    const next = await eventually(async () => {
      const now = await status(instance.runDir).catch(() => null);
      if (now === null || now.hamPid === before.hamPid) return 0;
      const pid = await entityPid(instance, "svc");
      return pid > 0 && pid !== first ? pid : 0;
    }, 10_000, "the takeover and svc's new process");
    // Long enough for a second restart to have started a duplicate.
    await eventually(async () => (await status(instance.runDir)).guardianPid > 0, 10_000, "re-protection");
    expect(processesOf(instance.runDir, "svc")).toEqual([next]);
    expect(await instance.field("/svc/.info", "Num Restarts")).toBe("1");
    expect((await status(instance.runDir)).hamFailures).toBe(1);
  });

  it("a HAM killed between an attach's spawn and its reply: the attach, sent again, is answered, not refused with EEXIST", async () => {
    const instance = await startHam([], { HAMD_FAILPOINT: "after-attach-spawn:svc" });
    process.env["HAM_RUN_DIR"] = instance.runDir;
    const before = await guardianReady(instance.runDir);
    await ham.ham_connect(0);
    await ham.ham_attach("svc", 0, -1, "/bin/sleep 1000", 0);
    const after = await status(instance.runDir);
    expect(after.hamPid).not.toBe(before.hamPid);
    expect(after.hamFailures).toBe(1);
    const pid = await entityPid(instance, "svc");
    expect(processesOf(instance.runDir, "svc")).toEqual([pid]);
  });

  it("a client with 1,500 requests sent at once gets every one applied once across a takeover", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    const entity = await ham.ham_entity("burst", 0, 0);
    // A condition created twice would be EEXIST.
    const created = Promise.allSettled(Array.from({ length: 1_500 }, (_, index) => ham.ham_condition(entity, ham.CONDDEATH, `c${index}`, 0)));
    await eventually(async () => (await status(instance.runDir)).conditions >= 300, 10_000, "the burst under way");
    await killHam(instance);
    const outcomes = await created;
    expect(outcomes.filter((outcome) => outcome.status === "rejected").map((outcome) => String((outcome as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
    expect((await status(instance.runDir)).conditions).toBe(1_500);
  });

  it("refuses, in one line naming both versions, a kept state written by a newer hamd", async () => {
    const instance = await startHam();
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGTERM"); // stops HAM and Guardian, keeps the state
    await eventually(() => !isAlive(before.hamPid) && !isAlive(before.guardianPid), 5_000, "the HAM stopped");
    const dir = stateDirOf(instance.runDir);
    const reader = new StoreReader(dir);
    const meta = reader.refresh().values.get("m") as Record<string, unknown>;
    const store = new StateStore(dir);
    store.open(reader);
    store.commit({ m: { ...meta, version: 99 } }, undefined);
    store.close();
    const started = spawnSync(HAM_BIN, ["--run-dir", instance.runDir, "--no-mount"], { encoding: "utf8", timeout: 20_000 });
    expect(started.status).toBe(1);
    const log = readFileSync(join(instance.runDir, "ham.log"), "utf8");
    expect(`${started.stderr}${log}`).toContain("state version 99; this one reads versions 1 to 2");
  });

  it("a hung HAM (SIGSTOP) is SIGKILLed by its Guardian's watchdog, which takes over", async () => {
    const instance = await startHam(["--watchdog-ms", "300"]);
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGSTOP");
    const after = await eventually(async () => {
      const now = await status(instance.runDir).catch(() => null);
      return now !== null && now.hamPid !== before.hamPid ? now : null;
    }, 10_000, "the watchdog to end the hung HAM");
    expect(after.hamPid).toBe(before.guardianPid);
    expect(after.hamFailures).toBe(1);
    expect(isAlive(before.hamPid)).toBe(false);
    const log = instance.logLines().map((line) => String(line["msg"] ?? ""));
    expect(log.some((line) => line.includes("has not answered"))).toBe(true);
  });

  it("a short hang, within the watchdog's limit, is waited out", async () => {
    const instance = await startHam(["--watchdog-ms", "1000"]);
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 250)); // the hang itself, not a wait for an event
    process.kill(before.hamPid, "SIGCONT");
    // Long enough for a watchdog that misjudged to have acted.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await status(instance.runDir);
    expect(after.hamPid).toBe(before.hamPid);
    expect(after.hamFailures).toBe(0);
  });

  it("a healthy entity is restarted at once while another sits in a crash loop's backoff", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await ham.ham_connect(0);
    const flapper = await ham.ham_attach("flapper", 0, -1, "/bin/sleep 0.2", 0);
    const death = await ham.ham_condition(flapper, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(death, "restart", "/bin/sleep 0.2", ham.HREARMAFTERRESTART);
    await attachSleeper("healthy");
    // The flapper dies 0.2 s after each start: 100, 200, 400, 800, 1,600 ms of backoff.
    await eventually(async () => {
      const backoff = Number((await instance.field("/flapper/.info", "Backoff")).replace(" ms", ""));
      return backoff >= 1_600 && (await instance.field("/flapper/.info", "Entity Pid")) === "0";
    }, 15_000, "the flapper to sit in a backoff of 1.6 s or more");
    const pid = await entityPid(instance, "healthy");
    const killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    const next = await eventually(async () => {
      const now = await entityPid(instance, "healthy");
      return now !== pid && now > 0 ? now : 0;
    }, 10_000, "the healthy entity's restart");
    const restartMs = Date.now() - killedAt;
    // Back while the flapper is still waiting out its backoff (today: a few ms).
    expect(restartMs).toBeLessThan(1_000);
    expect(processesOf(instance.runDir, "healthy")).toEqual([next]);
  });
});
