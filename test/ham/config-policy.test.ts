import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { pidsWithEnv } from "../helpers/processes.mjs";
import { cleanup, entityPid, eventually, HAM_BIN, HAMCTL_BIN, isAlive, killRunDir, startHam, track, tempDir } from "../helpers/ham-instance.js";
import { killHam, processesOf } from "../helpers/takeover.js";

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

const config = (entities: unknown[]) => JSON.stringify({ entities }, null, 2);
const sleeper = (name: string, extra: Record<string, unknown> = {}) => ({
  name, command: "/bin/sleep 1000", ...extra,
  conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
});

describe("config file", () => {
  it("a HAM started on a bad file exits 1 with one line, and its Guardian does not take over", async () => {
    const runDir = tempDir("badstart");
    const file = join(runDir, "bad.json");
    writeFileSync(file, JSON.stringify({ entities: [{ ...sleeper("a"), conditions: [{ name: "c", type: 99 }] }] }));
    const child = spawn(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", runDir, "--config", file], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      const code = await new Promise<number | null>((resolve) => child.on("exit", (exitCode) => resolve(exitCode)));
      expect(code).toBe(1);
      expect(stderr.split("\n").filter((line) => line.startsWith("ham:"))).toEqual(["ham: EINVAL: line 1: entities[0].conditions[0].type: invalid condition type 99"]);
      // A Guardian that took over would read the same file and fail again, for ever: none runs,
      // not now and not a moment later, and no state is left.
      const started = Date.now();
      await eventually(() => Date.now() - started > 1_000 || pidsWithEnv(`HAM_RUN_DIR=${runDir}`).length > 0, 3_000);
      expect(pidsWithEnv(`HAM_RUN_DIR=${runDir}`)).toEqual([]);
      expect(existsSync(stateDirOf(runDir))).toBe(false);
    } finally {
      await killRunDir(runDir);
    }
  });

  it("a HAM that takes over while the file is bad keeps the running state and says why", async () => {
    const dir = tempDir("badtakeover");
    const file = join(dir, "config.json");
    writeFileSync(file, config([sleeper("a")]));
    const instance = await startHam(["--config", file]);
    const a = await entityPid(instance, "a");
    writeFileSync(file, "{ \"entities\": [ oops ] }");
    await eventually(() => instance.logLines().some((line) => line["event"] === "config-rejected"), 5_000, "rejection");
    const { after } = await killHam(instance);
    expect(after.entities).toBe(1);
    expect(await entityPid(instance, "a")).toBe(a);
    await eventually(() => instance.logLines().filter((line) => line["event"] === "config-rejected").length >= 2, 5_000, "the new HAM's rejection");
  });

  it("answers raised fault severities as the config's fault policy says, and not at all otherwise", async () => {
    const dir = tempDir("faults");
    const file = join(dir, "config.json");
    writeFileSync(file, config([
      sleeper("calm", { policy: { minUptimeMs: 0, faults: { major: "log" } } }),
      sleeper("strict", { policy: { minUptimeMs: 0, faults: { major: "restart" } } }),
      sleeper("plain", { policy: { minUptimeMs: 0 } }),
    ]));
    const instance = await startHam(["--config", file]);
    const ctl = (...args: string[]) => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, ...args], { encoding: "utf8" });
    const calm = await entityPid(instance, "calm");
    const strict = await entityPid(instance, "strict");
    const plain = await entityPid(instance, "plain");
    // major: logged for "calm", a restart for "strict" (their policies), nothing for "plain" (in no group, no policy).
    for (const name of ["calm", "strict", "plain"]) expect(ctl("raise", name, "7", "1", String(ham.HAMFAULTMAJOR)).status).toBe(0);
    const restarted = await eventually(async () => {
      const pid = await entityPid(instance, "strict").catch(() => 0);
      return pid !== 0 && pid !== strict ? pid : 0;
    }, 10_000, "strict restarted");
    expect(restarted).not.toBe(strict);
    expect(isAlive(strict)).toBe(false);
    expect(await entityPid(instance, "calm")).toBe(calm);
    expect(await entityPid(instance, "plain")).toBe(plain);
    expect(isAlive(plain)).toBe(true);
    const faults = instance.logLines().filter((line) => line["event"] === "fault");
    expect(faults.map((line) => [line["entity"], line["severity"], line["response"]])).toEqual([["calm", "major", "log"], ["strict", "major", "restart"]]);
    // Every restart asked for has its restart action: no warning.
    expect(instance.logLines().filter((line) => line["event"] === "fault-policy")).toEqual([]);
  });

  it("applies edits as a diff while the HAM runs, and rejects a bad file whole", async () => {
    const dir = tempDir("config");
    const file = join(dir, "ham.json");
    writeFileSync(file, config([sleeper("a"), sleeper("b")]));
    const instance = await startHam(["--config", file]);
    const a = await eventually(() => entityPid(instance, "a"));
    await eventually(() => instance.logLines().some((line) => line["event"] === "config-watch"));
    const b = track(await entityPid(instance, "b"));
    writeFileSync(file, config([sleeper("a"), sleeper("b", { policy: { minUptimeMs: 0 } }), sleeper("c")]));
    const c = await eventually(() => entityPid(instance, "c").catch(() => 0), 5_000, "c added");
    expect(track(c)).toBeGreaterThan(0);
    expect(await entityPid(instance, "a")).toBe(a);
    expect(await entityPid(instance, "b")).toBe(b);
    expect(await instance.field("/b/.info", "Min Uptime")).toBe("0 ms");
    writeFileSync(file, '{ "entities": [ { "name": "a", "command": 12 } ] }');
    await eventually(() => instance.logLines().some((line) => line["event"] === "config-rejected"), 5_000, "rejection");
    expect(String(instance.logLines().find((line) => line["event"] === "config-rejected")?.["msg"])).toContain("entities[0]");
    expect(await entityPid(instance, "c")).toBe(c);
    writeFileSync(file, config([sleeper("a")]));
    await eventually(() => instance.cat("/b/.info").then(() => false, () => true), 5_000, "b removed");
    expect(isAlive(b)).toBe(true);
    expect(await entityPid(instance, "a")).toBe(a);
  });

  it("an apply that fails part-way leaves the running state as it was, and the corrected file applies", async () => {
    const instance = await startHam();
    const dir = tempDir("apply");
    const file = join(dir, "apply.json");
    const apply = () => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "apply", file], { encoding: "utf8" });
    // A program that does not exist is found before anything is applied.
    writeFileSync(file, config([sleeper("a"), { ...sleeper("b"), command: "/nonexistent/prog --flag" }]));
    const missing = apply();
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("entities[1].command: /nonexistent/prog does not exist");
    // A pid that does not exist fails only when applied, after "a" was started: undone.
    writeFileSync(file, config([sleeper("a"), { name: "b", pid: 999_999_999 }]));
    const late = apply();
    expect(late.status).toBe(1);
    expect(late.stderr).toContain("999999999");
    await expect(instance.cat("/a/.info")).rejects.toMatchObject({ code: "ENOENT" });
    // The process the undone apply had started for "a" is ended too.
    await eventually(() => processesOf(instance.runDir, "a").length === 0, 10_000, "a's process ended");
    expect((await instance.field("/.info", "Num Entities"))).toBe("0");
    writeFileSync(file, config([sleeper("a"), sleeper("b")]));
    const fixed = apply();
    expect(fixed.stderr).toBe("");
    expect(fixed.status).toBe(0);
    expect(track(await entityPid(instance, "a"))).toBeGreaterThan(0);
    expect(track(await entityPid(instance, "b"))).toBeGreaterThan(0);
  });

  it("a changed entity's command and flags are updated; its process keeps running and the next restart uses the new command", async () => {
    const instance = await startHam();
    const dir = tempDir("apply");
    const file = join(dir, "apply.json");
    const apply = () => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "apply", file], { encoding: "utf8" });
    writeFileSync(file, config([sleeper("svc", { policy: { minUptimeMs: 0 } })]));
    expect(apply().status).toBe(0);
    const before = track(await entityPid(instance, "svc"));
    writeFileSync(file, config([{ ...sleeper("svc", { policy: { minUptimeMs: 0 } }), command: "/bin/sleep 2000", flags: ["HENTITYKEEPONDEATH"] }]));
    expect(apply().status).toBe(0);
    expect(await instance.field("/svc/.info", "Command")).toBe("/bin/sleep 2000");
    expect(await instance.field("/svc/.info", "Flags")).toBe(`0x${ham.HENTITYKEEPONDEATH.toString(16).padStart(8, "0")}`);
    expect(await entityPid(instance, "svc")).toBe(before);
    process.kill(before, "SIGKILL");
    const after = await eventually(async () => {
      const now = await entityPid(instance, "svc");
      return now !== before && now > 0 ? now : 0;
    }, 5_000, "the restart");
    expect(readFileSync(`/proc/${after}/cmdline`, "latin1").replaceAll("\0", " ").trim()).toBe("/bin/sleep 2000");
  });

  it("hamctl apply reports what changed; a bad file exits 1 with one line", async () => {
    const instance = await startHam();
    const dir = tempDir("apply");
    const file = join(dir, "apply.json");
    writeFileSync(file, config([sleeper("w")]));
    const ok = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "--json", "apply", file], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ added: ["w"] });
    track(await entityPid(instance, "w"));
    writeFileSync(file, "{\n  \"entities\": [\n    oops\n  ]\n}");
    const bad = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "apply", file], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^hamctl: EINVAL: invalid JSON: line 3: .*\n$/);
  });

  it("hamctl apply prints a warning for a fault policy that asks for a restart no restart action would do", async () => {
    const instance = await startHam();
    const dir = tempDir("apply");
    const file = join(dir, "apply.json");
    // The policy comes before the restart action in "w": the file is judged whole, so only "bare" is warned about.
    writeFileSync(file, config([
      sleeper("w", { policy: { faults: { major: "restart" } } }),
      { name: "bare", command: "/bin/sleep 1000", policy: { faults: { major: "restart" } } },
    ]));
    const applied = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "apply", file], { encoding: "utf8" });
    expect(applied.status).toBe(0);
    const message = "bare: a major fault is to restart it, but it has no restart action (in a death condition): until it has one, such a fault is only logged";
    expect(applied.stdout).toBe(`added: w bare\nchanged: \nremoved: \nunchanged: \nwarning: ${message}\n`);
    track(await entityPid(instance, "w"));
    const bare = track(await entityPid(instance, "bare"));
    expect(instance.logLines().filter((line) => line["event"] === "fault-policy").map((line) => line["msg"])).toEqual([message]);
    // And at the raise: logged again, the process left running.
    expect(spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "raise", "bare", "1", "1", String(ham.HAMFAULTMAJOR)]).status).toBe(0);
    await eventually(() => instance.logLines().some((line) => line["event"] === "fault" && line["entity"] === "bare"), 5_000, "the raise logged");
    expect(await entityPid(instance, "bare")).toBe(bare);
    expect(isAlive(bare)).toBe(true);
  });
});

describe("config file in YAML", () => {
  const yamlSleeper = (name: string, delay = 50) => [
    `  - name: ${name}`,
    "    command: /bin/sleep 1000",
    "    conditions:",
    "      - name: death",
    "        type: CONDDEATH",
    "        flags: [HREARMAFTERRESTART]",
    "        actions:",
    "          - { name: restart, kind: restart, flags: [HREARMAFTERRESTART] }",
    "          - name: pause",
    "            kind: waitfor",
    `            delay: ${delay}`,
  ];
  const yamlConfig = (...entities: string[][]) =>
    ["# yaml-language-server: $schema=../schema/ham-config.schema.json", "entities:", ...entities.flat(), ""].join("\n");

  it("applies a YAML file and its edits; an error names the line and the field, and the running state is kept", async () => {
    const dir = tempDir("yaml");
    const file = join(dir, "ham.yaml");
    writeFileSync(file, yamlConfig(yamlSleeper("a")));
    const instance = await startHam(["--config", file]);
    const a = track(await eventually(() => entityPid(instance, "a")));
    await eventually(() => instance.logLines().some((line) => line["event"] === "config-watch"));
    writeFileSync(file, yamlConfig(yamlSleeper("a"), yamlSleeper("b")));
    expect(track(await eventually(() => entityPid(instance, "b").catch(() => 0), 5_000, "b added"))).toBeGreaterThan(0);
    // Line 24: b's waitfor delay (2 header lines, 11 per entity).
    writeFileSync(file, yamlConfig(yamlSleeper("a"), yamlSleeper("b", 0)));
    await eventually(() => instance.logLines().some((line) => line["event"] === "config-rejected"), 5_000, "rejection");
    expect(String(instance.logLines().find((line) => line["event"] === "config-rejected")?.["msg"]))
      .toContain("EINVAL: line 24: entities[1].conditions[0].actions[1].delay: must be > 0");
    expect(await entityPid(instance, "a")).toBe(a);
    // hamctl apply takes YAML too (by the file's extension), and names the line of a syntax error.
    const other = join(dir, "other.yml");
    const apply = () => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "--json", "apply", other], { encoding: "utf8" });
    writeFileSync(other, "entities:\n  - name: c\n   command: /bin/sleep 1000\n");
    const bad = apply();
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^hamctl: EINVAL: invalid YAML: line 3: .*\n$/);
    writeFileSync(other, yamlConfig(yamlSleeper("c")));
    const ok = apply();
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ added: ["c"] });
    expect(track(await entityPid(instance, "c"))).toBeGreaterThan(0);
  });
});

describe("config programs", () => {
  it("hamctl apply names the field and the line of a command, restart or execute line that cannot run, and applies nothing", async () => {
    const instance = await startHam();
    const dir = tempDir("programs");
    const file = join(dir, "apply.json");
    const notExecutable = join(dir, "not-executable");
    writeFileSync(notExecutable, "#!/bin/sh\n");
    const apply = () => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, "apply", file], { encoding: "utf8" });
    const death = (...actions: unknown[]) => [{ name: "death", type: "CONDDEATH", actions }];
    const restart = { name: "restart", kind: "restart" };
    const cases: Array<[unknown[], unknown, string]> = [
      [[sleeper("a"), { ...sleeper("b"), command: "/nonexistent/prog --flag" }], undefined,
        "line 27: entities[1].command: /nonexistent/prog does not exist or is not executable"],
      [[{ ...sleeper("b"), command: `${notExecutable} --flag` }], undefined,
        `line 5: entities[0].command: ${notExecutable} does not exist or is not executable`],
      [[{ ...sleeper("b"), conditions: death({ ...restart, line: "/nonexistent/restarter --again" }) }], undefined,
        "line 14: entities[0].conditions[0].actions[0].line: /nonexistent/restarter does not exist or is not executable"],
      [[{ ...sleeper("b"), conditions: death(restart, { name: "page", kind: "execute", line: "no-such-pager --now" }) }], undefined,
        "line 18: entities[0].conditions[0].actions[1].line: no-such-pager is not on PATH"],
      [[{ ...sleeper("b"), conditions: death({ ...restart, fail: [{ name: "page", kind: "execute", line: "/nonexistent/pager" }] }) }], undefined,
        "line 18: entities[0].conditions[0].actions[0].fail[0].line: /nonexistent/pager does not exist or is not executable"],
      [[sleeper("a")], { conditions: [{ name: "g", type: "CONDDETACH", actions: [{ name: "x", kind: "execute", line: "/nonexistent/global" }] }] },
        "line 35: global.conditions[0].actions[0].line: /nonexistent/global does not exist or is not executable"],
    ];
    for (const [entities, global, message] of cases) {
      writeFileSync(file, JSON.stringify({ entities, global }, null, 2));
      const result = apply();
      expect(result.stderr).toBe(`hamctl: ENOENT: ${message}\n`);
      expect(result.status).toBe(1);
    }
    expect(await instance.field("/.info", "Num Entities")).toBe("0");
    writeFileSync(file, JSON.stringify({ entities: [{ ...sleeper("b"), conditions: death(restart, { name: "page", kind: "execute", line: "true" }) }] }, null, 2));
    expect(apply().stderr).toBe("");
    expect(track(await entityPid(instance, "b"))).toBeGreaterThan(0);
  });
});

describe("hamctl", () => {
  it("attaches, lists, cats, raises, restarts and detaches", async () => {
    const instance = await startHam();
    const ctl = (...args: string[]) => spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", instance.runDir, ...args], { encoding: "utf8" });
    expect(ctl("attach", "svc", "--", "/bin/sleep", "1000").status).toBe(0);
    const pid = await entityPid(instance, "svc");
    expect(ctl("ls").stdout).toBe(".info\n.global\nsvc\n");
    expect(ctl("cat", "/svc/.info").stdout).toBe(await instance.cat("/svc/.info"));
    expect(JSON.parse(ctl("--json", "status").stdout)).toMatchObject({ entities: 1, runDir: instance.runDir });
    expect(ctl("state", "svc", "3").status).toBe(0);
    expect(await instance.field("/svc/.info", "Last State")).toBe("3");
    expect(ctl("raise", "svc", "1", "2", "3").status).toBe(0);
    expect(ctl("verbose", "5").stdout).toBe("5\n");
    const missing = ctl("cat", "/nope/.info");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("hamctl: ENOENT: no such item: /nope/.info\n");
    expect(ctl("bogus").status).toBe(2);
    expect(ctl("restart", "svc").status).toBe(0);
    expect(isAlive(pid)).toBe(false);
    expect(ctl("detach", "svc").status).toBe(1);
  });
});

describe("restart storms", () => {
  it("backs off a process that keeps dying at once, and gives up when the budget is spent", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    const dir = tempDir("storm");
    await ham.ham_connect(0);
    const entity = await ham.ham_attach("flappy", 0, -1, "/bin/sleep 0.3", 0);
    await ham.ham_entity_policy(entity, { minUptimeMs: 1000, backoffInitialMs: 100, budget: { restarts: 3, windowMs: 60_000 } });
    const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    const restart = await ham.ham_action_restart(death, "restart", "/bin/sleep 0.05", ham.HREARMAFTERRESTART | ham.HACTIONKEEPONFAIL);
    await ham.ham_action_fail_execute(restart, "escalate", `/usr/bin/touch ${dir}/gave-up`, 0);
    await eventually(async () => (await instance.field("/flappy/.info", "Gave Up")) === "YES", 10_000);
    expect(await instance.field("/flappy/.info", "Num Restarts")).toBe("3");
    const backoffs = instance.logLines().filter((line) => line["event"] === "backoff").map((line) => line["delayMs"]);
    expect(backoffs.slice(0, 3)).toEqual([100, 200, 400]);
    await eventually(() => spawnSync("test", ["-e", join(dir, "gave-up")]).status === 0);
  });
});
