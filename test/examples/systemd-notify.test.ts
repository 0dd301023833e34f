import { afterEach, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { environOf } from "../../dist/lib/proc.js";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { cleanup, eventually, HAM_BIN, HAMCTL_BIN, isAlive, killRunDir, startHam, tempDir, track } from "../helpers/ham-instance.js";
import { attachSleeper, guardianReady, killHam, processesOf, status } from "../helpers/takeover.js";
import { bindNotifySocket, describeWithNotify, type NotifySocket } from "../helpers/notify-socket.js";

// hamd under a systemd unit of Type=notify (examples/systemd/hamd.service), with the test's own
// datagram socket as NOTIFY_SOCKET in place of systemd's: the messages a real `ham` sends
// through Debian's systemd-notify, and their order across a takeover.

let socket: NotifySocket | null = null;
const runDirs: string[] = [];

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  socket?.close();
  socket = null;
  for (const runDir of runDirs.splice(0)) {
    await killRunDir(runDir);
    rmSync(stateDirOf(runDir), { recursive: true, force: true });
  }
  await cleanup();
});

const SYSTEMD_VARIABLES = /^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID|HAMD_NOTIFY)/;
const systemdVariablesOf = (pid: number): string[] => environOf(pid).filter((entry) => SYSTEMD_VARIABLES.test(entry));

describeWithNotify("systemd's notify protocol (Type=notify)", () => {
  it("READY=1 once the HAM is protected, MAINPID= from the Guardian that takes over, STOPPING=1 at SIGTERM; no process the HAM starts inherits NOTIFY_SOCKET", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    const instance = await startHam([], { NOTIFY_SOCKET: socket.path });
    const ready = await socket.waitFor("READY=1");
    const before = await guardianReady(instance.runDir);
    // Sent by the HAM systemd started, once its Guardian was ready (the log says so first).
    expect(ready.message.fields.get("MAINPID")).toBe(String(instance.process.pid));
    expect(ready.message.fields.get("STATUS")).toBe(`protected (Guardian pid ${before.guardianPid})`);
    expect(instance.logLines().some((line) => line["event"] === "protected" && line["ready"] === true)).toBe(true);

    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("sleeper");
    await ham.ham_disconnect(0);
    const [sleeper = 0] = await eventually(() => processesOf(instance.runDir, "sleeper").map(track), 5_000, "the sleeper");
    expect(systemdVariablesOf(sleeper)).toEqual([]);
    expect(systemdVariablesOf(before.guardianPid)).toEqual([]);

    const { after } = await killHam(instance);
    expect(after.hamPid).toBe(before.guardianPid);
    const mainPid = await socket.waitFor(`MAINPID=${after.hamPid}`, ready.index + 1);
    expect(mainPid.message.fields.has("READY")).toBe(false);

    // The HAM that took over starts processes without it too.
    process.kill(sleeper, "SIGKILL");
    const restarted = await eventually(() => processesOf(instance.runDir, "sleeper").map(track).find((pid) => pid !== sleeper), 10_000, "the sleeper restarted");
    expect(systemdVariablesOf(restarted)).toEqual([]);

    process.kill(after.hamPid, "SIGTERM");
    await socket.waitFor("STOPPING=1", mainPid.index + 1);
    await eventually(() => !isAlive(after.hamPid), 5_000, "the HAM stopped");
    // READY=1 once per HAM lifetime: the first HAM's.
    expect(socket.messages().filter((message) => message.fields.has("READY"))).toHaveLength(1);
  });

  it("pings WATCHDOG=1 every half of WATCHDOG_USEC from the HAM's loop: none while the HAM is stopped (SIGSTOP), again from the HAM that takes over", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    // --watchdog-ms 0: the Guardian does not kill the stopped HAM itself.
    const instance = await startHam(["--watchdog-ms", "0"], { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: "200000" });
    const ready = await socket.waitFor("READY=1");
    const pings = () => socket?.messages().filter((message) => message.fields.get("WATCHDOG") === "1") ?? [];
    await eventually(() => pings().length >= 4, 10_000, "four pings");

    const pid = instance.process.pid ?? 0;
    process.kill(pid, "SIGSTOP");
    const stoppedAt = Date.now();
    // The window watched (not a synchronisation): 8 periods of 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const resumedAt = Date.now();
    process.kill(pid, "SIGCONT");
    // A ping spawned just before the stop may land a little after it.
    expect(pings().filter((message) => message.at > stoppedAt + 300 && message.at < resumedAt)).toEqual([]);
    await eventually(() => pings().some((message) => message.at > resumedAt), 10_000, "pings again after SIGCONT");

    const { after } = await killHam(instance);
    const mainPid = await socket.waitFor(`MAINPID=${after.hamPid}`, ready.index + 1);
    await socket.waitFor("WATCHDOG=1", mainPid.index + 1);
  });

  it("no WATCHDOG=1 when WATCHDOG_PID names another process (sd_watchdog_enabled(3))", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    await startHam([], { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: "100000", WATCHDOG_PID: "1" });
    const ready = await socket.waitFor("READY=1");
    // Ten periods of 50 ms pass after READY=1 (itself sent after the first ping would have been).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(socket.messages().filter((message) => message.fields.has("WATCHDOG"))).toEqual([]);
    expect(ready.message.fields.get("MAINPID")).toBeDefined();
  });

  it("the daemonised ham: READY=1 and MAINPID= name the HAM it forks, which pings the watchdog meant for ham; hamctl stop sends STOPPING=1", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    const runDir = join(tempDir("notify-run"), "run");
    runDirs.push(runDir);
    // systemd sets WATCHDOG_PID to the pid it started: `ham` itself (python's exec keeps its pid).
    const exec = "import os, sys; os.environ['WATCHDOG_PID'] = str(os.getpid()); os.execv(sys.argv[1], sys.argv[1:])";
    const launcher = spawn("python3", ["-c", exec, HAM_BIN, "--run-dir", runDir, "--no-mount"], {
      // HAM_RUN_DIR from birth: the launcher and the HAM it forks are found by killRunDir after a failure.
      env: { ...process.env, HAM_RUN_DIR: runDir, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: "300000" }, stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    launcher.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => launcher.once("exit", resolve));
    expect(code, stderr).toBe(0);
    const now = await status(runDir);
    expect(now.hamPid).not.toBe(launcher.pid);
    const ready = await socket.waitFor("READY=1");
    expect(ready.message.fields.get("MAINPID")).toBe(String(now.hamPid));
    // `ham` itself told systemd before it exited (its unit's main process until then), maybe
    // before the HAM's own READY=1.
    expect(socket.messages().filter((message) => message.fields.get("MAINPID") === String(now.hamPid) && !message.fields.has("READY"))).toHaveLength(1);
    expect(socket.messages().some((message) => message.fields.get("MAINPID") === String(launcher.pid))).toBe(false);
    await socket.waitFor("WATCHDOG=1");
    expect(systemdVariablesOf(now.guardianPid)).toEqual([]);

    const stop = spawnSync(HAMCTL_BIN, ["stop", "--run-dir", runDir], { encoding: "utf8" });
    expect(stop.status, stop.stderr).toBe(0);
    await socket.waitFor("STOPPING=1", ready.index + 1);
  }, 60_000);

  it("systemd starting the unit again after a takeover hands the unit over to the HAM that took over (MAINPID=, READY=1) instead of failing 'already running'", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    const instance = await startHam([], { NOTIFY_SOCKET: socket.path });
    await socket.waitFor("READY=1");
    const { after } = await killHam(instance);
    const mainPid = await socket.waitFor(`MAINPID=${after.hamPid}`);

    // What Restart=always runs 1 s after systemd saw its main process killed.
    const again = spawnSync(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", instance.runDir], {
      env: { ...process.env, NOTIFY_SOCKET: socket.path }, encoding: "utf8", timeout: 20_000,
    });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`systemd's unit follows that HAM now (MAINPID=${after.hamPid})`);
    const handedOver = await socket.waitFor("READY=1", mainPid.index + 1);
    expect(handedOver.message.fields.get("MAINPID")).toBe(String(after.hamPid));
    expect((await status(instance.runDir)).hamPid).toBe(after.hamPid);

    // Outside a unit (no NOTIFY_SOCKET) a second ham still refuses.
    const outside = spawnSync(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", instance.runDir], { encoding: "utf8", timeout: 20_000 });
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain(`ham: already running (pid ${after.hamPid})`);
  });

  it("a missing systemd-notify with NOTIFY_SOCKET set is one warning in the log; the HAM runs on", async () => {
    socket = await bindNotifySocket(tempDir("notify"));
    // A PATH with node on it and no systemd-notify.
    const bin = join(tempDir("notify-path"), "bin");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    const instance = await startHam([], { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: "100000", PATH: bin });
    const warnings = () => instance.logLines().filter((line) => line["event"] === "systemd-notify-missing");
    await eventually(() => warnings().length > 0, 10_000, "the warning");
    const before = await guardianReady(instance.runDir);
    expect((await status(instance.runDir)) as unknown as { systemdNotifyFailures: number }).toMatchObject({ systemdNotifyFailures: 1 });
    const { after } = await killHam(instance);
    expect(after.hamPid).toBe(before.guardianPid);
    process.kill(after.hamPid, "SIGTERM");
    await eventually(() => !isAlive(after.hamPid), 5_000, "the HAM stopped");
    // The HAM that took over met it missing too: one line each, none per ping.
    expect(warnings()).toHaveLength(2);
    expect(socket.messages()).toEqual([]);
  });
});
