import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { entityPid, eventually, FIXTURES, isAlive, track, useHamPerTest, type HamInstance, tempDir } from "../helpers/ham-instance.js";

const currentHam = useHamPerTest(() => ham.ham_disconnect(0));
let instance: HamInstance;
beforeEach(() => {
  instance = currentHam();
});

async function attachSleeper(name: string, conditionFlags = ham.HREARMAFTERRESTART, actionFlags = ham.HREARMAFTERRESTART) {
  await ham.ham_connect(0);
  const entity = await ham.ham_attach(name, ham.ND_LOCAL_NODE, -1, "/bin/sleep 1000", 0);
  const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", conditionFlags);
  await ham.ham_action_restart(death, "restart", "/bin/sleep 1000", actionFlags);
  await ham.ham_entity_policy(entity, { minUptimeMs: 0 });
  return { entity, death };
}

describe("S1 simple restart", () => {
  it("restarts an attached entity after SIGKILL, counting each restart", async () => {
    await attachSleeper("inetd");
    expect(await instance.cat("/.info")).toMatch(/Num Entities {7}: 1\nNum Conditions {5}: 1\nNum Actions {8}: 1\n/);
    expect(await instance.field("/inetd/death/.info", "Condition type")).toBe("CONDDEATH");
    expect(await instance.field("/inetd/death/restart", "Restart Line")).toBe("/bin/sleep 1000");
    expect(await instance.cat("/inetd/.info")).not.toContain("Last Death");
    for (let round = 1; round <= 3; round += 1) {
      const before = await entityPid(instance, "inetd");
      process.kill(before, "SIGKILL");
      const after = await eventually(async () => {
        const pid = await entityPid(instance, "inetd");
        return pid !== before && pid > 0 ? pid : 0;
      });
      expect(isAlive(after)).toBe(true);
      expect(await instance.field("/inetd/.info", "Num Restarts")).toBe(String(round));
    }
    expect(await instance.cat("/inetd/.info")).toMatch(/Last Death {6}: \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d:\d{9}\nRestarted/);
    await expect(ham.ham_attach("inetd", 0, -1, "/bin/sleep 1", 0)).rejects.toMatchObject({ code: "EEXIST" });
  });

  it("attaches an existing pid without spawning, and keeps watching after the client exits", async () => {
    const sleeper = spawn("/bin/sleep", ["1000"], { detached: true, stdio: "ignore" });
    const pid = track(sleeper.pid ?? 0);
    await ham.ham_attach("existing", 0, pid, "/ignored because pid > 0", ham.HENTITYKEEPONDEATH);
    expect(await entityPid(instance, "existing")).toBe(pid);
    process.kill(pid, "SIGKILL");
    await eventually(async () => (await instance.field("/existing/.info", "Num Deaths")) === "1");
    expect(await instance.field("/existing/.info", "Entity Pid")).toBe("0");
  });
});

describe("S1b deaths of processes the HAM did not start", () => {
  // A process whose parent (here the test's shell, which never waits) has not reaped it yet:
  // a zombie, whose wait status /proc still shows.
  async function unreapedGrandchild(): Promise<number> {
    const shell = spawn("/bin/sh", ["-c", "sleep 1000 >/dev/null & echo $!; exec sleep 1000 >/dev/null"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    track(shell.pid ?? 0);
    let output = "";
    shell.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const pid = await eventually(() => Number(/^(\d+)\n/.exec(output)?.[1] ?? 0));
    return track(pid);
  }

  it("fires CONDABNORMALDEATH for a process attached by pid that dies by SIGSEGV before anyone reaps it", async () => {
    const dir = tempDir("abnormal");
    const pid = await unreapedGrandchild();
    await ham.ham_connect(0);
    const entity = await ham.ham_attach("crasher", 0, pid, null, 0);
    const abnormal = await ham.ham_condition(entity, ham.CONDABNORMALDEATH, "abnormal", 0);
    await ham.ham_action_execute(abnormal, "mark", `/usr/bin/touch ${dir}/abnormal`, 0);
    const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", 0);
    await ham.ham_action_execute(death, "mark", `/usr/bin/touch ${dir}/death`, 0);
    process.kill(pid, "SIGSEGV");
    await eventually(() => existsSync(join(dir, "abnormal")) && existsSync(join(dir, "death")));
    const line = instance.logLines().find((row) => row["event"] === "death" && row["entity"] === "crasher");
    expect(line).toMatchObject({ abnormal: true, msg: expect.stringContaining("killed by SIGSEGV") });
  });

  it("tells how a process attached by pid died when it was not abnormal: killed by SIGTERM", async () => {
    const pid = await unreapedGrandchild();
    await ham.ham_connect(0);
    const entity = await ham.ham_attach("quitter", 0, pid, null, ham.HENTITYKEEPONDEATH);
    process.kill(pid, "SIGTERM");
    await eventually(async () => (await instance.field("/quitter/.info", "Num Deaths")) === "1");
    expect(await instance.field("/quitter/.info", "Abnormal Deaths")).toBe("0");
    expect(instance.logLines().find((row) => row["event"] === "death")).toMatchObject({ abnormal: false, msg: expect.stringContaining("killed by SIGTERM") });
  });
});

describe("S2 multistage recovery", () => {
  it("runs restart, waitfor, execute, waitfor, execute strictly in order; DONOW runs at setup", async () => {
    const dir = tempDir("s2");
    const { death } = await attachSleeper("fs-nfs2");
    await ham.ham_action_waitfor(death, "delay1", null, 500, ham.HREARMAFTERRESTART);
    await ham.ham_action_execute(death, "mount1", `/usr/bin/touch ${dir}/mount1`, ham.HREARMAFTERRESTART | ham.HACTIONDONOW);
    await ham.ham_action_waitfor(death, "delay2", null, 500, ham.HREARMAFTERRESTART);
    await ham.ham_action_execute(death, "mount2", `/usr/bin/touch ${dir}/mount2`, ham.HREARMAFTERRESTART | ham.HACTIONDONOW);
    await eventually(() => existsSync(join(dir, "mount1")) && existsSync(join(dir, "mount2")));
    writeFileSync(join(dir, "mount1"), "");
    const { rmSync } = await import("node:fs");
    rmSync(join(dir, "mount1"));
    rmSync(join(dir, "mount2"));
    const killed = Date.now();
    process.kill(await entityPid(instance, "fs-nfs2"), "SIGKILL");
    await eventually(() => existsSync(join(dir, "mount1")), 5_000);
    const first = Date.now() - killed;
    expect(existsSync(join(dir, "mount2"))).toBe(false);
    await eventually(() => existsSync(join(dir, "mount2")), 5_000);
    const second = Date.now() - killed;
    expect(first).toBeGreaterThanOrEqual(500);
    expect(second - first).toBeGreaterThanOrEqual(400);
    expect(await instance.field("/fs-nfs2/.info", "Num Restarts")).toBe("1");
  });
});

describe("S3 notifications", () => {
  it("delivers death and restart pulses and a detach pulse, and removes a failed notification", async () => {
    const { entity, death } = await attachSleeper("inetd");
    const pulses: number[] = [];
    const channel = await ham.ham_channel_create((pulse) => pulses.push(pulse.code * 100 + pulse.value));
    await ham.ham_action_notify_pulse(death, "notifypulsedeath", 0, channel.pid, channel.chid, 1, 13, ham.HREARMAFTERRESTART);
    const detach = await ham.ham_condition(entity, ham.CONDDETACH, "detach", ham.HREARMAFTERRESTART);
    await ham.ham_action_notify_pulse(detach, "notifypulsedetach", 0, channel.pid, channel.chid, 2, 13, ham.HREARMAFTERRESTART);
    const restarted = await ham.ham_condition(entity, ham.CONDRESTART, "restart", ham.HREARMAFTERRESTART | ham.HCONDINDEPENDENT);
    await ham.ham_action_notify_pulse(restarted, "imm", 0, channel.pid, channel.chid, 4, 13, 0);
    await ham.ham_action_waitfor(restarted, "delay", null, 300, 0);
    await ham.ham_action_notify_pulse(restarted, "delayed", 0, channel.pid, channel.chid, 5, 13, 0);
    process.kill(await entityPid(instance, "inetd"), "SIGKILL");
    await eventually(() => pulses.includes(113) && pulses.includes(413));
    expect(pulses).not.toContain(513);
    await eventually(() => pulses.includes(513), 3_000);
    track(await entityPid(instance, "inetd"));
    await ham.ham_detach_name(0, "inetd", 0);
    await eventually(() => pulses.includes(213));
    await channel.close();
    await expect(ham.ham_entity_handle(0, "inetd", 0)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("fails a pulse to a closed channel: fail-actions run and the action is removed", async () => {
    const dir = tempDir("s3");
    const { death } = await attachSleeper("svc");
    const channel = await ham.ham_channel_create(() => undefined);
    const pulse = await ham.ham_action_notify_pulse(death, "notify", 0, channel.pid, channel.chid, 1, 1, ham.HREARMAFTERRESTART);
    await ham.ham_action_fail_execute(pulse, "mark", `/usr/bin/touch ${dir}/failed`, 0);
    await channel.close();
    process.kill(await entityPid(instance, "svc"), "SIGKILL");
    await eventually(() => existsSync(join(dir, "failed")));
    await eventually(async () => !(await instance.cat("/svc/death/.info")).includes("Num Actions     : 2"));
    await expect(ham.ham_action_handle(0, "svc", "death", "notify", 0)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("delivers a signal action from an independent condition", async () => {
    const { entity } = await attachSleeper("fs");
    const target = spawn("/bin/sleep", ["1000"], { stdio: "ignore" });
    const targetPid = track(target.pid ?? 0);
    const exited = new Promise<string | null>((resolve) => target.on("exit", (_code, signal) => resolve(signal)));
    const deathSep = await ham.ham_condition(entity, ham.CONDDEATH, "DeathSep", ham.HCONDINDEPENDENT | ham.HREARMAFTERRESTART);
    await ham.ham_action_notify_signal(deathSep, "notifysignaldeath", 0, targetPid, "SIGUSR1", 0, 18, ham.HREARMAFTERRESTART);
    process.kill(await entityPid(instance, "fs"), "SIGKILL");
    expect(await exited).toBe("SIGUSR1");
  });
});

describe("S4/S5 heartbeats", () => {
  it("fires MISSEDHIGH when a client stops beating; the execute action kills it", async () => {
    const client = spawn(process.execPath, [join(FIXTURES, "heartbeat.mjs"), "deadlock", "50", "3", "3", "30"], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
    });
    const pid = track(client.pid ?? 0);
    await eventually(() => client.stdout?.read() !== null);
    await ham.ham_connect(0);
    const entity = await ham.ham_entity_handle(0, "deadlock", 0);
    const missed = await ham.ham_condition(entity, ham.CONDHBEATMISSEDHIGH, "heartbeat-missed-high", 0);
    await ham.ham_action_execute(missed, "terminate", `/bin/kill -9 ${pid}`, 0);
    await eventually(() => !isAlive(pid), 5_000, "client killed by the execute action");
    const lines = instance.logLines();
    expect(lines.some((line) => line["event"] === "missed-high" && line["entity"] === "deadlock")).toBe(true);
    await eventually(async () => (await ham.ham_entity_handle(0, "deadlock", 0).then(() => false, () => true)));
  });

  it("shows the heartbeat lines and state, and heartbeat_healthy re-arms monitoring", async () => {
    const client = spawn(process.execPath, [join(FIXTURES, "heartbeat.mjs"), "beater", "50", "2", "4", "4"], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
    });
    track(client.pid ?? 0);
    await eventually(() => client.stdout?.read() !== null);
    await ham.ham_connect(0);
    const entity = await ham.ham_entity_handle(0, "beater", 0);
    const low = await ham.ham_condition(entity, ham.CONDHBEATMISSEDLOW, "low", 0);
    await ham.ham_action_log(low, "note", "missed low", 1, 0, 0);
    await eventually(async () => (await instance.field("/beater/.info", "HeartBeat State")) === "MISSEDHIGH", 5_000);
    const info = await instance.cat("/beater/.info");
    expect(info).toContain("HeartBeat Period: 50000000\nHB Low Mark     : 2\nHB High Mark    : 4\nLast Heartbeat  : ");
    expect(info).toContain("Entity type     : ATTACHEDSELF");
    expect(await instance.field("/beater/.info", "Missed Low")).toBe("1");
    expect(instance.logLines().some((line) => line["msg"] === "beater/low/note: missed low")).toBe(true);
    // Each miss says how long after the period's end it was noticed, never before it.
    const misses = instance.logLines().filter((line) => line["event"] === "missed-low" || line["event"] === "missed-high");
    expect(misses.map((line) => line["event"])).toEqual(["missed-low", "missed-high"]);
    for (const line of misses) expect(line["lateMs"]).toBeGreaterThanOrEqual(0);
  });
});

describe("S6/S7 attach and detach", () => {
  it("shows a self-attached entity while attached and removes it on detach, firing no death", async () => {
    const client = spawn(process.execPath, [join(FIXTURES, "heartbeat.mjs"), "client1", "100", "4", "8"], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
    });
    track(client.pid ?? 0);
    await eventually(() => client.stdout?.read() !== null);
    expect(await instance.field("/client1/.info", "Entity Pid")).toBe(String(client.pid));
    const exited = new Promise((resolve) => client.on("exit", resolve));
    client.kill("SIGUSR2");
    await exited;
    await expect(instance.cat("/client1/.info")).rejects.toMatchObject({ code: "ENOENT" });
    const events = instance.logLines().map((line) => line["event"]);
    expect(events).toContain("detach");
    expect(events).not.toContain("death");
  });

  it("answers EEXIST to a second ham_attach_self of one name, so one ham_detach_self closes the connection", async () => {
    const self = await ham.ham_attach_self("twice", 0, 0, 0, 0);
    let second: unknown;
    let disconnect: unknown;
    try {
      second = await ham.ham_attach_self("twice", 0, 0, 0, 0).catch((error: { code?: string }) => error.code);
      // The self-attachment is no ham_connect: a disconnect cannot close its connection.
      disconnect = await ham.ham_disconnect(0).catch((error: { code?: string }) => error.code);
    } finally {
      // This test process is the entity: it leaves before the HAM's cleanup kills entity pids.
      await ham.ham_detach_self(self, 0);
    }
    expect(second).toBe("EEXIST");
    expect(disconnect).toBe("EINVAL");
    await expect(instance.cat("/twice/.info")).rejects.toMatchObject({ code: "ENOENT" });
    // No ham_connect and no self-attachment left: the connection is closed.
    await expect(ham.ham_entity_handle(0, null, 0)).rejects.toMatchObject({ code: "EBADF" });
  });

  it("runs death conditions when a self-attached process dies without detaching", async () => {
    const dir = tempDir("s6");
    const client = spawn(process.execPath, [join(FIXTURES, "heartbeat.mjs"), "crasher", "100", "0", "0"], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
    });
    track(client.pid ?? 0);
    await eventually(() => client.stdout?.read() !== null);
    await ham.ham_connect(0);
    const death = await ham.ham_condition(await ham.ham_entity_handle(0, "crasher", 0), ham.CONDDEATH, "death", 0);
    await ham.ham_action_execute(death, "mark", `/usr/bin/touch ${dir}/dead`, 0);
    client.kill("SIGKILL");
    await eventually(() => existsSync(join(dir, "dead")));
  });

  it("fills a placeholder on attach and fires CONDATTACH; detach by name fires CONDDETACH", async () => {
    const dir = tempDir("s7");
    await ham.ham_connect(0);
    const placeholder = await ham.ham_entity("later", 0, 0);
    const attached = await ham.ham_condition(placeholder, ham.CONDATTACH, "joined", 0);
    await ham.ham_action_execute(attached, "mark", `/usr/bin/touch ${dir}/joined`, 0);
    const detached = await ham.ham_condition(placeholder, ham.CONDDETACH, "left", 0);
    await ham.ham_action_execute(detached, "mark", `/usr/bin/touch ${dir}/left`, 0);
    expect(await instance.field("/later/.info", "Entity type")).toBe("PLACEHOLDER");
    await ham.ham_attach("later", 0, -1, "/bin/sleep 1000", 0);
    track(await entityPid(instance, "later"));
    await eventually(() => existsSync(join(dir, "joined")));
    await ham.ham_detach_name(0, "later", 0);
    await eventually(() => existsSync(join(dir, "left")));
    expect(readFileSync(join(dir, "left"), "utf8")).toBe("");
  });
});
