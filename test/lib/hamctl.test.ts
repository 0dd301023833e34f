import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { cleanup, entityPid, eventually, HAMCTL_BIN, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";

// hamctl as a user runs it: a real HAM in a temporary run directory, hamctl as a process.

const followers = new Set<ChildProcess>();
let self: Awaited<ReturnType<typeof ham.ham_attach_self>> | null = null;

afterEach(async () => {
  for (const child of followers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  followers.clear();
  if (self !== null) await ham.ham_detach_self(self, 0).catch(() => undefined);
  self = null;
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

const hamctl = (...args: string[]) => spawnSync(process.execPath, [HAMCTL_BIN, ...args], { encoding: "utf8" });
const ctlOf = (instance: HamInstance) => (...args: string[]) => hamctl("--run-dir", instance.runDir, ...args);

// `hamctl logs -f ...` as a process whose output the test reads as it comes.
function follow(...args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [HAMCTL_BIN, "logs", "-f", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  followers.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => {
  if (child.exitCode !== null) resolve(child.exitCode);
  else child.once("exit", (code) => resolve(code));
});

describe("hamctl flags", () => {
  it("takes global flags before or after the command, refuses an unknown flag, and prints one command's help", async () => {
    const instance = await startHam();
    const before = hamctl("--run-dir", instance.runDir, "--json", "status");
    const after = hamctl("status", "--json", "--run-dir", instance.runDir);
    const mixed = hamctl("--json", "status", `--run-dir=${instance.runDir}`);
    for (const run of [before, after, mixed]) {
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ runDir: instance.runDir, entities: 0 });
    }
    for (const args of [["status", "--jsn"], ["--bogus", "status"], ["status", "-x"], ["ps", "--pid", "3"]]) {
      const run = hamctl("--run-dir", instance.runDir, ...args);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe("");
      const [first, second] = run.stderr.split("\n");
      expect(first).toBe(`hamctl: unknown option ${args.find((arg) => arg.startsWith("-"))}`);
      expect(second).toMatch(/^usage: hamctl /);
    }
    expect(hamctl("--run-dir", instance.runDir, "logs", "-n").stderr.split("\n")[0]).toBe("hamctl: option -n needs a value");
    // The command's own flags after `--` are its own, not hamctl's.
    const ctl = ctlOf(instance);
    expect(ctl("attach", "svc", "--", "/bin/sh", "-c", "exec /bin/sleep 1000", "sh", "--bogus").status).toBe(0);
    await eventually(() => entityPid(instance, "svc"));
    expect(ctl("ps").stdout).toMatch(/\nsvc +\d+ +running /);

    const help = hamctl("help", "ps");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: hamctl \[--run-dir DIR\] \[--node NAME\] \[--json\] ps\n/);
    expect(hamctl("ps", "--help").stdout).toBe(help.stdout);
    expect(hamctl("logs", "-h").stdout).toMatch(/logs \[-f\] \[-n N\] \[--file FILE\] \[--output\] \[ENTITY\]/);
    const whole = hamctl("help");
    expect(whole.status).toBe(0);
    expect(hamctl("--help").stdout).toBe(whole.stdout);
    for (const command of ["status", "ps", "logs", "attach", "apply", "stop", "help"]) expect(whole.stdout).toContain(`\n  ${command}`);
    expect(hamctl("help", "nope").status).toBe(2);
    const output = hamctl("logs", "--output");
    expect(output.status).toBe(2);
    expect(output.stderr).toMatch(/^hamctl: logs --output needs an ENTITY\n/);
    // An entity's own output: its stdout on ours, its stderr on ours.
    expect(ctl("attach", "talker", "--", "/bin/sh", "-c", "echo one; echo two; echo oops >&2; exec /bin/sleep 1000").status).toBe(0);
    await eventually(() => ctl("logs", "--output", "talker").stdout === "one\ntwo\n", 5_000, "the entity's stdout");
    const talker = ctl("logs", "--output", "-n", "1", "talker");
    expect([talker.stdout, talker.stderr]).toEqual(["two\n", "oops\n"]);
  });
});

describe("hamctl ps", () => {
  it("shows one row per entity in its state, lined up, and the same rows as JSON", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    const ctl = ctlOf(instance);
    expect(ctl("attach", "web", "--", "/bin/sleep", "1000").status).toBe(0);
    const web = await eventually(() => entityPid(instance, "web"));
    await ham.ham_connect(0);
    // Dies 0.2 s after each start: well under its minimum uptime, so its restart backs off 20 s.
    const flappy = await ham.ham_attach("flappy", 0, -1, "/bin/sleep 0.2", 0);
    await ham.ham_entity_policy(flappy, { minUptimeMs: 60_000, backoffInitialMs: 20_000 });
    const death = await ham.ham_condition(flappy, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(death, "restart", "/bin/sleep 0.2", ham.HREARMAFTERRESTART);
    await ham.ham_entity("later", 0, 0);
    self = await ham.ham_attach_self("me", 10_000_000_000n, 5, 10, 0);

    type Row = Record<string, unknown>;
    const rows = await eventually(() => {
      const found = JSON.parse(ctl("ps", "--json").stdout) as Row[];
      return found.find((row) => row["name"] === "flappy")?.["state"] === "backing off" ? found : null;
    }, 5_000, "flappy backing off");
    expect(rows.map((row) => [row["name"], row["state"], row["pid"]])).toEqual([
      ["flappy", "backing off", 0], ["later", "placeholder", 0], ["me", "self-attached", process.pid], ["web", "running", web],
    ]);
    const byName = new Map(rows.map((row) => [row["name"], row]));
    expect(byName.get("flappy")).toMatchObject({ deaths: 1, restarts: 0, lastExit: "exited with code 0", uptimeMs: null, cpuPercent: null, rssBytes: null });
    expect(Number(byName.get("flappy")?.["restartInMs"])).toBeGreaterThan(10_000);
    const webRow = byName.get("web") ?? {};
    expect(webRow).toMatchObject({ kind: "attached", restarts: 0, deaths: 0, lastExit: null });
    expect(typeof webRow["uptimeMs"]).toBe("number");
    expect(typeof webRow["cpuPercent"]).toBe("number");
    expect(Number(webRow["rssBytes"])).toBeGreaterThan(0);
    expect(Number(byName.get("me")?.["rssBytes"])).toBeGreaterThan(10 * 1024 * 1024);

    const table = ctl("ps").stdout.trimEnd().split("\n");
    expect(table).toHaveLength(5);
    const header = table[0] ?? "";
    expect(header).toMatch(/^NAME +PID +STATE +ROLE +UPTIME +RESTARTS +DEATHS +LAST EXIT +AVAIL % +CPU % +RSS$/);
    expect(table.slice(1).map((line) => line.split(/ +/)[0])).toEqual(["flappy", "later", "me", "web"]);
    expect(table[1]).toMatch(/^flappy +- +backing off +- +- +0 +1 +exited with code 0 +\d+\.\d{3} +- +-$/);
    // Text columns start where their title starts; number columns end where theirs ends.
    for (const [title, right] of [["STATE", false], ["LAST EXIT", false], ["PID", true], ["UPTIME", true], ["DEATHS", true], ["RSS", true]] as const) {
      const start = header.indexOf(title);
      const end = start + title.length;
      for (const line of table.slice(1)) {
        if (right) expect([line[end - 1] !== " ", line[end] ?? " "]).toEqual([true, " "]);
        else expect([line[start - 1], line[start] !== " "]).toEqual([" ", true]);
      }
    }
  });
});

describe("hamctl logs", () => {
  it("prints the last N lines, one entity's, as human lines or as the JSON lines", async () => {
    const instance = await startHam();
    const ctl = ctlOf(instance);
    expect(ctl("attach", "web", "--", "/bin/sleep", "1000").status).toBe(0);
    expect(ctl("attach", "db", "--", "/bin/sleep", "1000").status).toBe(0);
    await eventually(() => entityPid(instance, "web"));
    await eventually(() => entityPid(instance, "db"));
    const all = instance.logLines();
    const json = ctl("logs", "--file", instance.logFile, "-n", "3", "--json");
    expect(json.status).toBe(0);
    expect(json.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(all.slice(-3));
    const human = ctl("logs", "--file", instance.logFile, "-n2").stdout.trimEnd().split("\n");
    expect(human).toHaveLength(2);
    const webLines = ctl("logs", "--file", instance.logFile, "web").stdout.trimEnd().split("\n");
    expect(webLines).toHaveLength(all.filter((line) => line["entity"] === "web").length);
    expect(webLines[0]).toMatch(/^\[\+\d+\.\d{3}s\] INFO \(web\/\d+\): web attached \(pid \d+\)/);
    expect(webLines.join("\n")).not.toContain("db");
    expect(ctl("logs", "--file", instance.logFile, "nobody").stdout).toBe("");
    const missing = ctl("logs", "--file", join(instance.runDir, "nope.log"));
    expect([missing.status, missing.stderr]).toEqual([1, `hamctl: no activity log at ${join(instance.runDir, "nope.log")}\n`]);
  });

  it("-f follows appended lines, one entity's, until SIGTERM", async () => {
    const instance = await startHam();
    const ctl = ctlOf(instance);
    const follower = follow("--file", instance.logFile, "-n", "0", "web");
    await eventually(() => follower.child.pid !== undefined);
    expect(ctl("attach", "db", "--", "/bin/sleep", "1000").status).toBe(0);
    expect(ctl("attach", "web", "--", "/bin/sleep", "1000").status).toBe(0);
    await eventually(() => follower.output().includes("web attached"), 5_000, "the attach line");
    expect(follower.output()).not.toContain("db");
    follower.child.kill("SIGTERM");
    expect(await exited(follower.child)).toBe(0);
  });

  it("-f goes on after the file is truncated or rotated", async () => {
    const dir = tempDir("logs");
    const file = join(dir, "ham.log");
    const line = (msg: string) => `${JSON.stringify({ level: "info", rel: 1.5, event: "x", entity: "a", msg })}\n`;
    writeFileSync(file, line("old 1") + line("old 2"));
    const follower = follow("--file", file, "-n", "1");
    await eventually(() => follower.output().includes("old 2"), 5_000, "the last line");
    expect(follower.output()).not.toContain("old 1");
    appendFileSync(file, line("appended"));
    await eventually(() => follower.output().includes("appended"), 5_000, "the appended line");
    writeFileSync(file, line("after truncation"));
    await eventually(() => follower.output().includes("after truncation"), 5_000, "the line after truncation");
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, line("last of the old file"));
    writeFileSync(file, line("first of the new file"));
    await eventually(() => follower.output().includes("first of the new file"), 5_000, "the new file's line");
    expect(follower.output()).toContain("last of the old file");
    follower.child.kill("SIGINT");
    expect(await exited(follower.child)).toBe(0);
  });
});
