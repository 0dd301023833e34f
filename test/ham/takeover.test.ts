import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { cleanup, currentHamPid, entityPid, eventually, FIXTURES, HAM_BIN, isAlive, startHam, track, tempDir } from "../helpers/ham-instance.js";
import { attachSleeper, guardianReady, killHam, processesOf, status, treeOf } from "../helpers/takeover.js";
import { environOf } from "../../dist/lib/proc.js";

// Guardian takeover (issue 3): every kill is a SIGKILL; after each, the tree is the same,
// no entity process is duplicated, none is left unwatched, and the counters are right.

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

describe("Guardian takeover", () => {
  it("S8: a killed idle HAM is replaced by its Guardian, with the same tree and the same processes", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("inetd");
    const pid = await entityPid(instance, "inetd");
    const tree = await treeOf(instance.runDir);
    const { before, after } = await killHam(instance);
    expect(after.hamPid).toBe(before.guardianPid);
    expect(after.hamFailures).toBe(1);
    expect(after.guardianFailures).toBe(0);
    expect((await guardianReady(instance.runDir)).guardianPid).not.toBe(before.guardianPid);
    expect([after.entities, after.conditions, after.actions]).toEqual([before.entities, before.conditions, before.actions]);
    expect(await treeOf(instance.runDir)).toEqual(tree);
    expect(processesOf(instance.runDir, "inetd")).toEqual([pid]);
    expect(await instance.field("/.info", "Ham Failures")).toBe("1");
    // The adopted process is still watched: its death is noticed and it is restarted once.
    process.kill(pid, "SIGKILL");
    const next = await eventually(async () => {
      const now = await entityPid(instance, "inetd");
      return now !== pid && now > 0 ? now : 0;
    }, 5_000, "restart of the adopted process");
    expect(processesOf(instance.runDir, "inetd")).toEqual([next]);
    expect(await instance.field("/inetd/.info", "Num Restarts")).toBe("1");
  });

  it("applies every acknowledged mutation of a burst exactly once across a takeover", async () => {
    const instance = await startHam();
    const clients = ["a", "b", "c", "d"].map((prefix) => {
      const child = spawn(process.execPath, [join(FIXTURES, "mutator.mjs"), prefix, "250"], {
        stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
      });
      track(child.pid ?? 0);
      let out = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      // A client that ended without its line is a failure of this test, with what it said.
      return new Promise<{ done: string[]; errors: string[] }>((resolve) => child.on("exit", (code, signal) => {
        try {
          resolve(JSON.parse(out) as { done: string[]; errors: string[] });
        } catch {
          resolve({ done: [], errors: [`client ${prefix} ended (${signal ?? `code ${code}`}) without its line: ${JSON.stringify(out)}`] });
        }
      }));
    });
    await eventually(async () => (await status(instance.runDir)).entities >= 100, 10_000, "the burst to be under way");
    await killHam(instance);
    const results = await Promise.all(clients);
    expect(results.flatMap((result) => result.errors)).toEqual([]);
    const done = results.flatMap((result) => result.done);
    expect(done).toHaveLength(1_000);
    const after = await status(instance.runDir);
    expect([after.entities, after.conditions, after.actions]).toEqual([1_000, 1_000, 1_000]);
    for (const name of ["a-0", "b-249", "c-125", "d-17"]) await expect(instance.cat(`/${name}/death/note`)).resolves.toContain(name);
  });

  it("continues a multistage recovery from the first action not completed", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    const dir = tempDir("s2t");
    await ham.ham_connect(0);
    const entity = await ham.ham_attach("fs-sys", 0, -1, "/bin/sleep 1000", 0);
    await ham.ham_entity_policy(entity, { minUptimeMs: 0 });
    const death = await ham.ham_condition(entity, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
    const flags = ham.HREARMAFTERRESTART;
    await ham.ham_action_restart(death, "restart", "/bin/sleep 1000", flags);
    await ham.ham_action_waitfor(death, "wait1", null, 1_500, flags);
    await ham.ham_action_execute(death, "first", `/bin/sh -c "echo x >> ${dir}/first"`, flags);
    await ham.ham_action_waitfor(death, "wait2", null, 300, flags);
    await ham.ham_action_execute(death, "second", `/bin/sh -c "echo x >> ${dir}/second"`, flags);
    const pid = await entityPid(instance, "fs-sys");
    const died = Date.now();
    process.kill(pid, "SIGKILL");
    await eventually(async () => (await entityPid(instance, "fs-sys")) !== pid, 5_000, "restart");
    await killHam(instance); // during wait1
    await eventually(() => existsSync(join(dir, "second")), 6_000, "the rest of the sequence");
    expect(Date.now() - died).toBeGreaterThanOrEqual(1_800);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may run
    expect(readFileSync(join(dir, "first"), "utf8")).toBe("x\n");
    expect(readFileSync(join(dir, "second"), "utf8")).toBe("x\n");
    expect(await instance.field("/fs-sys/.info", "Num Restarts")).toBe("1");
    expect(processesOf(instance.runDir, "fs-sys")).toHaveLength(1);
  });

  it("keeps 100 heartbeating self-attached entities attached, with no false missed heartbeat", async () => {
    const instance = await startHam();
    const clients = Array.from({ length: 10 }, (_, index) => {
      const child = spawn(process.execPath, [join(FIXTURES, "beaters.mjs"), `hb${index}`, "10", "100"], {
        stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HAM_RUN_DIR: instance.runDir },
      });
      track(child.pid ?? 0);
      return child;
    });
    await Promise.all(clients.map((child) => eventually(() => child.stdout?.read() !== null, 20_000, "beaters attached")));
    const tree = await treeOf(instance.runDir);
    await killHam(instance);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // 10 periods
    const after = await status(instance.runDir);
    expect(after.entities).toBe(100);
    expect(await treeOf(instance.runDir)).toEqual(tree);
    const lines = instance.logLines();
    const takeover = lines.findIndex((line) => line["event"] === "takeover");
    expect(takeover).toBeGreaterThan(0);
    const missed = lines.slice(takeover)
      .filter((line) => String(line["event"]).startsWith("missed") || line["event"] === "death");
    expect(missed.map((line) => `${String(line["event"])} ${String(line["entity"])} ${String(line["msg"])}`)).toEqual([]);
    expect(clients.every((child) => child.exitCode === null)).toBe(true);
  });

  it("keeps delivering to a pulse channel and answering a connected client after a takeover", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    const pulses: number[] = [];
    const channel = await ham.ham_channel_create(({ value }) => pulses.push(value));
    await attachSleeper("inetd");
    const death = await ham.ham_condition_handle(0, "inetd", "death", 0);
    await ham.ham_action_notify_pulse(death, "tell", 0, channel.pid, channel.chid, 7, 42, ham.HREARMAFTERRESTART);
    const pid = await entityPid(instance, "inetd");
    await killHam(instance);
    process.kill(pid, "SIGKILL");
    await eventually(() => pulses.length === 1, 5_000, "the death pulse").catch((error) => {
      console.error(instance.logLines().slice(-25).map((line) => `${String(line["event"])} ${String(line["msg"])} ${String(line["op"] ?? "")} ${String(line["pid"] ?? "")}`).join("\n"));
      throw error;
    });
    expect(pulses).toEqual([42]);
    // The same ham_connect session goes on working without being told anything.
    expect(await ham.ham_verbose(null, ham.VERBOSE_GET, 0)).toBe(3);
    await channel.close();
  });

  it("takes over a HAM started with a config file, which it keeps watching, as a diff", async () => {
    const dir = tempDir("configt");
    const file = join(dir, "ham.json");
    const sleeper = (name: string) => ({
      name, command: "/bin/sleep 1000",
      conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
    });
    writeFileSync(file, JSON.stringify({ entities: [sleeper("a")] }));
    const instance = await startHam(["--config", file]);
    const a = await eventually(() => entityPid(instance, "a"));
    const tree = await treeOf(instance.runDir);
    await killHam(instance);
    await eventually(() => instance.logLines().filter((line) => line["event"] === "config-watch").length === 2, 5_000, "watching again");
    expect(instance.logLines().filter((line) => line["event"] === "config-rejected")).toEqual([]);
    expect(await treeOf(instance.runDir)).toEqual(tree);
    expect(processesOf(instance.runDir, "a")).toEqual([a]);
    writeFileSync(file, JSON.stringify({ entities: [sleeper("a"), sleeper("b")] }));
    await eventually(async () => (await entityPid(instance, "b").catch(() => 0)) > 0, 5_000, "b added by the new HAM");
    expect(processesOf(instance.runDir, "a")).toEqual([a]);
  });

  it("survives twenty kills in a row", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("inetd");
    const pid = await entityPid(instance, "inetd");
    const tree = await treeOf(instance.runDir);
    for (let round = 1; round <= 20; round += 1) {
      const { after } = await killHam(instance);
      expect(after.hamFailures).toBe(round);
      await guardianReady(instance.runDir);
    }
    expect(await treeOf(instance.runDir)).toEqual(tree);
    expect(processesOf(instance.runDir, "inetd")).toEqual([pid]);
  }, 60_000);

  it("replaces a killed Guardian and counts it", async () => {
    const instance = await startHam();
    const before = await guardianReady(instance.runDir);
    process.kill(before.guardianPid, "SIGKILL");
    const after = await eventually(async () => {
      const now = await status(instance.runDir);
      return now.guardianPid > 0 && now.guardianPid !== before.guardianPid ? now : null;
    }, 5_000, "a new Guardian");
    expect(after.hamPid).toBe(before.hamPid);
    expect(after.guardianFailures).toBe(1);
    expect(await instance.field("/.info", "Guardian Failures")).toBe("1");
  });

  it("starts the Guardian without NODE_EXTRA_CA_CERTS (its cost at Node's start) and gives it back to the processes it restarts after a takeover", async () => {
    const certificates = join(tempDir(), "extra-ca.pem");
    writeFileSync(certificates, "");
    const instance = await startHam([], { NODE_EXTRA_CA_CERTS: certificates, HAMD_ETCD_PASSWORD: "secret" });
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("inetd");
    const { guardianPid } = await guardianReady(instance.runDir);
    const guardianEnv = environOf(guardianPid);
    expect(guardianEnv).not.toContain(`NODE_EXTRA_CA_CERTS=${certificates}`);
    expect(guardianEnv).toContain(`HAMD_NODE_EXTRA_CA_CERTS=${certificates}`);
    await killHam(instance);
    const [pid] = processesOf(instance.runDir, "inetd");
    process.kill(pid ?? 0, "SIGKILL");
    const next = await eventually(async () => {
      const now = await entityPid(instance, "inetd");
      return now !== pid && now > 0 ? now : 0;
    }, 5_000, "a restart by the HAM that took over");
    const restartedEnv = environOf(next);
    expect(restartedEnv).toContain(`NODE_EXTRA_CA_CERTS=${certificates}`);
    expect(restartedEnv.filter((entry) => entry.startsWith("HAMD_NODE_EXTRA_CA_CERTS=") || entry.startsWith("HAMD_ETCD_PASSWORD="))).toEqual([]);
  });

  it("recovers when HAM and Guardian die together: adopts the living, runs death conditions for the dead", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("alive");
    await attachSleeper("victim");
    const alive = await entityPid(instance, "alive");
    const victim = await entityPid(instance, "victim");
    await ham.ham_disconnect(0);
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGKILL");
    process.kill(before.guardianPid, "SIGKILL");
    await eventually(() => !isAlive(before.hamPid) && !isAlive(before.guardianPid), 5_000, "both gone");
    process.kill(victim, "SIGKILL"); // dies while no HAM is alive
    await eventually(() => !isAlive(victim), 5_000, "victim gone");
    const started = spawnSync(HAM_BIN, ["--no-mount", "--run-dir", instance.runDir], { encoding: "utf8" });
    expect(started.stderr).toBe("");
    expect(started.status).toBe(0);
    await eventually(async () => (await entityPid(instance, "victim")) > 0, 5_000, "victim restarted");
    expect(processesOf(instance.runDir, "alive")).toEqual([alive]);
    expect(processesOf(instance.runDir, "victim")).toHaveLength(1);
    expect(await instance.field("/victim/.info", "Num Restarts")).toBe("1");
    expect(currentHamPid(instance.runDir)).not.toBe(before.hamPid);
  });

  it("ham --fresh starts empty; ham_stop removes the state and leaves the processes running", async () => {
    const instance = await startHam();
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("left");
    const left = await entityPid(instance, "left");
    const before = await guardianReady(instance.runDir);
    process.kill(before.hamPid, "SIGKILL");
    process.kill(before.guardianPid, "SIGKILL");
    await eventually(() => !isAlive(before.hamPid) && !isAlive(before.guardianPid), 5_000, "both gone");
    expect(spawnSync(HAM_BIN, ["--no-mount", "--fresh", "--run-dir", instance.runDir], { encoding: "utf8" }).status).toBe(0);
    expect((await status(instance.runDir)).entities).toBe(0);
    expect(isAlive(left)).toBe(true);
    track(left);
    await ham.ham_disconnect(0).catch(() => undefined);
    await ham.ham_stop();
    await eventually(() => !existsSync(stateDirOf(instance.runDir)), 5_000, "state removed");
  });
});

