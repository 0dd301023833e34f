import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../dist/ham/server/config-file.js";
import { Session } from "../../dist/lib/client/session.js";
import { cleanup, eventually, HAMCTL_BIN, isAlive, startHam, tempDir, track, type HamInstance } from "../helpers/ham-instance.js";
import { guardianReady, status } from "../helpers/takeover.js";

// A supervised service in one line (issue 18): `restart:` in the config file and hamctl's
// start / stop NAME / delete NAME, as a PM2 or systemd user sees them (ps, ls, cat, exit codes).

afterEach(async () => {
  await cleanup();
});

// Real HAMs, a hamctl process per step: room for a loaded machine.
const SLOW = 120_000;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function hamctl(instance: HamInstance, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(HAMCTL_BIN, ["--run-dir", instance.runDir, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

interface Row {
  readonly name: string;
  readonly state: string;
  readonly pid: number;
  readonly restarts: number;
  readonly deaths: number;
  readonly lastExit: string | null;
}

// The rows `hamctl ps --json` prints (asked directly: a hamctl per poll is slow on a loaded machine).
async function ps(instance: HamInstance): Promise<Row[]> {
  const session = await Session.open(instance.runDir);
  try {
    return (await session.request("ps", {})) as Row[];
  } finally {
    session.close();
  }
}

async function row(instance: HamInstance, name: string): Promise<Row | undefined> {
  return (await ps(instance)).find((item) => item.name === name);
}

// Its running process's pid, once it has one other than `not` (tracked for the cleanup).
async function livePid(instance: HamInstance, name: string, not = 0, timeoutMs = 10_000): Promise<number> {
  const pid = await eventually(async () => {
    const found = await row(instance, name);
    return found !== undefined && found.state === "running" && found.pid !== not ? found.pid : 0;
  }, timeoutMs, `${name} running${not === 0 ? "" : ` as another pid than ${not}`}`);
  return track(pid);
}

// The entity's death is handled: its row shows `deaths` deaths and no live process.
async function settledDead(instance: HamInstance, name: string, deaths: number): Promise<Row> {
  return eventually(async () => {
    const found = await row(instance, name);
    const handled = instance.logLines().filter((line) => line["entity"] === name && line["event"] === "death").length >= deaths;
    return found !== undefined && found.deaths >= deaths && found.pid === 0 && handled ? found : undefined;
  }, 10_000, `${name}'s death ${deaths}`);
}

async function withConfig(text: string, name = "ham.yaml"): Promise<HamInstance> {
  const file = join(tempDir("services"), name);
  writeFileSync(file, text);
  return startHam(["--config", file]);
}

describe("restart: in the config file", () => {
  it("restart: always restarts its process after SIGKILL, and /ham shows the condition and action it stands for", async () => {
    const instance = await withConfig("entities:\n  - name: web\n    command: /bin/sleep 1000\n    restart: always\n");
    const first = await livePid(instance, "web");
    expect((await hamctl(instance, "ls", "/web")).stdout.split("\n").filter(Boolean)).toEqual([".info", "death"]);
    const condition = await instance.cat("/web/death/.info");
    expect(condition).toMatch(/Condition ReArm : ON/);
    expect(condition).toMatch(/Condition type  : CONDDEATH/);
    const action = await instance.cat("/web/death/restart");
    expect(action).toMatch(/Action ReArm : ON/);
    expect(action).toMatch(/Restart Line : \/bin\/sleep 1000/);
    expect(action).toMatch(/Action Type  : RESTART/);
    process.kill(first, "SIGKILL");
    const second = await livePid(instance, "web", first);
    expect(second).not.toBe(first);
    expect((await row(instance, "web"))?.restarts).toBe(1);
    // Re-armed: it restarts again.
    process.kill(second, "SIGKILL");
    await livePid(instance, "web", second);
  }, SLOW);

  it("restart: on-failure restarts after an abnormal end, a SIGKILL or a non-zero exit, not after exit 0", async () => {
    const instance = await withConfig([
      "entities:",
      "  - { name: crasher, command: /bin/sleep 1000, restart: on-failure }",
      "  - { name: failing, command: \"/bin/sh -c 'sleep 0.3; exit 3'\", restart: on-failure, policy: { minUptimeMs: 0 } }",
      "  - { name: done, command: \"/bin/sh -c 'sleep 0.3; exit 0'\", restart: on-failure }",
      "",
    ].join("\n"));
    expect(await instance.cat("/crasher/failure/.info")).toMatch(/Fires On        : failure \(not exit 0\)/);
    const first = await livePid(instance, "crasher");
    process.kill(first, "SIGABRT");
    const second = await livePid(instance, "crasher", first);
    process.kill(second, "SIGKILL");
    await livePid(instance, "crasher", second);
    // A non-zero exit is a failure: restarted, again and again.
    await eventually(async () => ((await row(instance, "failing"))?.restarts ?? 0) >= 2, 10_000, "failing restarted twice");
    // A clean exit is not: the entity stays, dead, listed (HENTITYKEEPONDEATH).
    const done = await settledDead(instance, "done", 1);
    expect(done).toMatchObject({ state: "dead", restarts: 0, lastExit: "exited with code 0" });
    expect(await instance.field("/done/.info", "Num Restarts")).toBe("0");
  }, SLOW);

  it("restart: never makes no condition and does not restart", async () => {
    const instance = await withConfig(JSON.stringify({ entities: [{ name: "once", command: "/bin/sleep 1000", restart: "never" }] }), "ham.json");
    const pid = await livePid(instance, "once");
    expect((await hamctl(instance, "ls", "/once")).stdout.split("\n").filter(Boolean)).toEqual([".info"]);
    process.kill(pid, "SIGKILL");
    expect(await settledDead(instance, "once", 1)).toMatchObject({ state: "dead", restarts: 0 });
  }, SLOW);

  it("restart: beside conditions of its own makes both, its condition first; a second restart is an error naming the entity", async () => {
    const both = parseConfig(JSON.stringify({ entities: [{
      name: "web", command: "/bin/sleep 1000", restart: "always",
      conditions: [{ name: "page", type: "CONDDEATH", actions: [{ name: "log", kind: "log", message: "web died" }] }],
    }] }));
    expect(both.entities[0]?.setup.map((request) => `${request.op}:${String(request.args["cname"])}`)).toEqual(["condition:death", "action:death", "condition:page", "action:page"]);
    const twice = () => parseConfig(JSON.stringify({ entities: [{
      name: "web", command: "/bin/sleep 1000", restart: "on-failure",
      conditions: [{ name: "death", type: "CONDDEATH", actions: [{ name: "restart", kind: "restart" }] }],
    }] }));
    expect(twice).toThrow("line 1: entities[0].restart: web has a restart action in conditions[0] already: give restart: or that action, not both");
    expect(() => parseConfig("entities:\n  - { name: ghost, placeholder: true, restart: always }\n", "c.yaml"))
      .toThrow("line 2: entities[0].restart: ghost has no command to restart: restart: needs \"command\"");
    expect(() => parseConfig("entities:\n  - { name: web, command: /bin/true, restart: sometimes }\n", "c.yaml")).toThrow(/entities\[0\]\.restart/);
  }, SLOW);
});

describe("hamctl start, stop NAME, delete NAME", () => {
  it("start runs CMD and restarts it; stop keeps it listed, stopped, not restarted; start starts it again; delete removes it", async () => {
    const instance = await startHam();
    expect(await hamctl(instance, "start", "web", "--", "/bin/sleep", "1000")).toMatchObject({ code: 0, stdout: "" });
    const first = await livePid(instance, "web");
    expect((await hamctl(instance, "ls", "/web")).stdout).toContain("death");
    process.kill(first, "SIGKILL");
    const second = await livePid(instance, "web", first);

    expect(await hamctl(instance, "stop", "web")).toMatchObject({ code: 0, stdout: "", stderr: "" });
    // hamctl stop returns once the process is gone.
    expect(isAlive(second)).toBe(false);
    const stopped = await row(instance, "web");
    expect(stopped).toMatchObject({ state: "stopped", pid: 0, restarts: 1 });
    expect(instance.logLines().some((line) => line["event"] === "stopped" && line["entity"] === "web")).toBe(true);
    expect(await instance.field("/web/.info", "Enabled")).toBe("NO");
    // The HAM itself still runs: `stop NAME` is not `stop`.
    expect((await status(instance.runDir)).entities).toBe(1);

    expect((await hamctl(instance, "start", "web")).code).toBe(0);
    const third = await livePid(instance, "web");
    expect(third).not.toBe(second);
    // Its restart condition works again.
    process.kill(third, "SIGKILL");
    const fourth = await livePid(instance, "web", third);

    expect((await hamctl(instance, "delete", "web")).code).toBe(0);
    expect(isAlive(fourth)).toBe(false);
    expect(await row(instance, "web")).toBeUndefined();
  }, SLOW);

  it("--restart on-failure leaves a clean exit dead and listed; never does not restart", async () => {
    const instance = await startHam();
    expect((await hamctl(instance, "start", "job", "--restart", "on-failure", "--", "/bin/sh", "-c", "sleep 0.3; exit 0")).code).toBe(0);
    expect((await hamctl(instance, "start", "once", "--restart", "never", "--", "/bin/sleep", "1000")).code).toBe(0);
    expect(await settledDead(instance, "job", 1)).toMatchObject({ state: "dead", restarts: 0 });
    process.kill(await livePid(instance, "once"), "SIGKILL");
    expect(await settledDead(instance, "once", 1)).toMatchObject({ state: "dead", restarts: 0 });
    // A dead, kept entity starts again with its own command.
    expect((await hamctl(instance, "start", "once")).code).toBe(0);
    await livePid(instance, "once");
  }, SLOW);

  it("mistakes: an unknown NAME is one line and exit 1, a bad --restart exit 2, a name in use exit 1", async () => {
    const instance = await startHam();
    for (const args of [["stop", "nope"], ["delete", "nope"], ["start", "nope"]]) {
      const result = await hamctl(instance, ...args);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe("hamctl: ENOENT: no entity nope\n");
    }
    const bad = await hamctl(instance, "start", "web", "--restart", "sometimes", "--", "/bin/true");
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe("hamctl: --restart takes always, on-failure or never, not \"sometimes\"");
    expect((await hamctl(instance, "start", "web", "--restart", "never")).code).toBe(2);
    expect((await hamctl(instance, "start", "web", "--", "/bin/sleep", "1000")).code).toBe(0);
    await livePid(instance, "web");
    const again = await hamctl(instance, "start", "web", "--", "/bin/sleep", "1000");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^hamctl: EEXIST: entity web exists/);
    // Already running: start NAME does nothing, as systemctl start.
    expect((await hamctl(instance, "start", "web")).code).toBe(0);
    expect((await hamctl(instance, "help", "stop")).stdout).toMatch(/no NAME: stop the HAM/);
  }, SLOW);
});

describe("hamctl start and stop across a takeover (exactly once)", () => {
  it("start: the HAM dies at its journal write; one process, one restart tree, and it restarts", async () => {
    const instance = await startHam([], { HAMD_FAILPOINT: "journal-write:service_start" });
    await guardianReady(instance.runDir);
    expect((await hamctl(instance, "start", "web", "--", "/bin/sleep", "1000")).code).toBe(0);
    expect((await status(instance.runDir)).hamFailures).toBe(1);
    const pid = await livePid(instance, "web");
    expect((await hamctl(instance, "ls", "/web")).stdout.split("\n").filter(Boolean)).toEqual([".info", "death"]);
    process.kill(pid, "SIGKILL");
    await livePid(instance, "web", pid);
  }, SLOW);

  it("stop: the HAM dies at its journal write; the HAM that takes over ends the process, not restarted", async () => {
    const instance = await startHam([], { HAMD_FAILPOINT: "journal-write:service_stop" });
    await guardianReady(instance.runDir);
    expect((await hamctl(instance, "start", "web", "--", "/bin/sleep", "1000")).code).toBe(0);
    const pid = await livePid(instance, "web");
    expect((await hamctl(instance, "stop", "web")).code).toBe(0);
    expect((await status(instance.runDir)).hamFailures).toBe(1);
    expect(isAlive(pid)).toBe(false);
    expect(await row(instance, "web")).toMatchObject({ state: "stopped", pid: 0, restarts: 0 });
  }, SLOW);
});
