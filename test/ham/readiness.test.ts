import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "../../dist/lib/client/session.js";
import type { PsRow } from "../../dist/lib/wire/ps-row.js";
import { cleanup, eventually, FIXTURES, HAM_BIN, HAMCTL_BIN, startHam, tempDir, track, type HamInstance } from "../helpers/ham-instance.js";
import { guardianReady, killHam, processesOf, status } from "../helpers/takeover.js";

// Readiness and start order (issue 18): real HAMs, real processes (test/fixtures/ready-when.mjs
// writes "NAME started PID" and "NAME ready PID" to a log, in the order they happen).

afterEach(cleanup);

interface Service {
  readonly name: string;
  readonly how?: "fd" | "api";
  readonly requires?: readonly string[];
  readonly restart?: boolean;
}

// A scratch directory: the services' log, and the file that lets a service say it is ready.
function world() {
  const dir = tempDir("ready");
  const log = join(dir, "log");
  const go = (name: string) => join(dir, `go-${name}`);
  const entity = ({ name, how, requires, restart }: Service) => ({
    name,
    command: `${process.execPath} ${FIXTURES}/ready-when.mjs ${name} ${log}${how === "fd" ? " --fd 3" : how === "api" ? " --api" : ""}${how === undefined ? "" : ` --when ${go(name)}`}`,
    ...(how === "fd" ? { notifyFd: 3 } : how === "api" ? { readiness: "notify" } : {}),
    ...(requires === undefined ? {} : { requires }),
    ...(restart === true ? {
      policy: { minUptimeMs: 0 },
      conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
    } : {}),
  });
  const config = (services: readonly Service[]) => {
    const file = join(dir, `ham-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ entities: services.map(entity) }));
    return file;
  };
  const events = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ").slice(0, 2).join(" ")) : []);
  return { dir, log, go, config, events, ready: (name: string) => writeFileSync(go(name), "") };
}

async function rows(instance: HamInstance): Promise<Map<string, PsRow>> {
  const session = await Session.open(instance.runDir);
  try {
    const answer = (await session.request("ps", {})) as { entities: PsRow[] } | PsRow[];
    const list = Array.isArray(answer) ? answer : answer.entities;
    return new Map(list.map((row) => [row.name, row]));
  } finally {
    session.close();
  }
}

async function row(instance: HamInstance, name: string): Promise<PsRow> {
  const found = (await rows(instance)).get(name);
  if (found === undefined) throw new Error(`no row ${name}`);
  if (found.pid > 0) track(found.pid);
  return found;
}

function hamctl(instance: HamInstance, ...args: string[]) {
  return spawnSync(HAMCTL_BIN, [...args, "--run-dir", instance.runDir], { encoding: "utf8" });
}

describe("readiness and start order", () => {
  it("starts a dependent only after its requirement wrote its newline on the notification fd", async () => {
    const w = world();
    const instance = await startHam(["--config", w.config([{ name: "web", requires: ["db"] }, { name: "db", how: "fd" }])]);
    await eventually(async () => (await row(instance, "db")).state === "starting", 30_000, "db started, not ready");
    const web = await row(instance, "web");
    expect(web).toMatchObject({ state: "waiting", pid: 0, ready: false, waitingFor: ["db"] });
    expect(await instance.field("/web/.info", "Waiting For")).toBe("db");
    expect(await instance.field("/db/.info", "Ready")).toBe("NO");
    expect(hamctl(instance, "ps").stdout).toMatch(/web +- +waiting for db/);
    w.ready("db");
    await eventually(() => w.events().includes("web started"), 30_000, "web started");
    expect(w.events().slice(0, 3)).toEqual(["db started", "db ready", "web started"]);
    expect((await row(instance, "db")).ready).toBe(true);
    expect(await instance.field("/db/.info", "Ready")).toBe("YES");
    expect((await status(instance.runDir) as unknown as { readiness: unknown }).readiness).toEqual({ ready: 2, starting: 0, waiting: 0 });
  }, 90_000);

  it("takes ham_ready() from a process the HAM started as its readiness", async () => {
    const w = world();
    const instance = await startHam();
    const applied = hamctl(instance, "apply", w.config([{ name: "db", how: "api" }, { name: "cache", requires: ["db"] }, { name: "web", requires: ["db", "cache"] }]));
    expect(applied.status, applied.stderr).toBe(0);
    await eventually(async () => (await row(instance, "db")).state === "starting", 30_000, "db started");
    expect((await row(instance, "web")).waitingFor).toEqual(["db", "cache"]);
    w.ready("db");
    await eventually(() => w.events().includes("web started"), 30_000, "web started");
    const order = w.events();
    expect(order.slice(0, 3)).toEqual(["db started", "db ham_ready", "db ready"]);
    expect(order.indexOf("web started")).toBeGreaterThan(order.indexOf("db ham_ready"));
    // cache is ready once its process runs (readiness "start"): started after db, and before web.
    const started = await rows(instance);
    const at = (name: string) => started.get(name)?.startedMs ?? 0;
    expect(at("db")).toBeLessThanOrEqual(at("cache"));
    expect(at("cache")).toBeLessThanOrEqual(at("web"));
  }, 90_000);

  it("refuses a cycle in requires in one line, from hamctl apply and from ham --config (exit 1), keeping what runs", async () => {
    const w = world();
    const cyclic = w.config([{ name: "a", requires: ["c"] }, { name: "b", requires: ["a"] }, { name: "c", requires: ["b"] }]);
    const instance = await startHam(["--config", w.config([{ name: "kept" }])]);
    await eventually(async () => (await row(instance, "kept")).state === "running", 30_000, "kept running");
    const applied = hamctl(instance, "apply", cyclic);
    expect(applied.status).toBe(1);
    expect(applied.stderr.trim().split("\n")).toHaveLength(1);
    expect(applied.stderr).toContain("a cycle: a → c → b → a");
    const unknown = hamctl(instance, "apply", w.config([{ name: "web", requires: ["nosuch"] }]));
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/web requires nosuch, which is neither in the file nor in the HAM$/);
    expect([...(await rows(instance)).keys()]).toEqual(["kept"]);
    // In the foreground (its log to a file): its refusal, not a start's 10 s deadline on a loaded machine.
    const started = spawnSync(HAM_BIN, ["--foreground", "--run-dir", join(w.dir, "run"), "--no-mount", "-f", join(w.dir, "ham.log"), "--config", cyclic], { encoding: "utf8", timeout: 60_000 });
    expect(started.status).toBe(1);
    expect(started.stderr.trim().split("\n")).toHaveLength(1);
    expect(started.stderr).toContain("a cycle: a → c → b → a");
    rmSync(join(w.dir, "run"), { recursive: true, force: true });
  }, 90_000);

  it("after a takeover, starts a dependent once its requirement is ready, and restarts nothing that runs", async () => {
    const w = world();
    const instance = await startHam(["--config", w.config([{ name: "db", how: "api" }, { name: "web", requires: ["db"] }])]);
    const db = await eventually(async () => ((await row(instance, "db")).state === "starting" ? (await row(instance, "db")).pid : 0), 30_000, "db started");
    await killHam(instance);
    // The HAM that took over adopted db, not ready, and holds web.
    expect(await row(instance, "db")).toMatchObject({ pid: db, state: "starting" });
    expect(await row(instance, "web")).toMatchObject({ pid: 0, state: "waiting", waitingFor: ["db"] });
    expect(processesOf(instance.runDir, "web")).toEqual([]);
    w.ready("db");
    const web = await eventually(async () => ((await row(instance, "web")).state === "running" ? (await row(instance, "web")).pid : 0), 30_000, "web started");
    expect((await row(instance, "db")).pid).toBe(db);
    await guardianReady(instance.runDir);
    const { after } = await killHam(instance);
    expect(after.hamFailures).toBe(2);
    const now = await rows(instance);
    expect([now.get("db")?.pid, now.get("db")?.state, now.get("web")?.pid, now.get("web")?.state]).toEqual([db, "running", web, "running"]);
    expect(processesOf(instance.runDir, "web")).toEqual([web]);
    await eventually(() => w.events().includes("web started"), 30_000, "web's log");
    expect(w.events().filter((event) => event.endsWith("started"))).toEqual(["db started", "web started"]);
  }, 90_000);

  it("leaves a running dependent alone when its requirement dies; the restarted requirement is not ready until it says so", async () => {
    const w = world();
    w.ready("db");
    const instance = await startHam(["--config", w.config([{ name: "db", how: "fd", restart: true }, { name: "web", requires: ["db"] }])]);
    const web = await eventually(async () => ((await row(instance, "web")).state === "running" ? (await row(instance, "web")).pid : 0), 30_000, "web started");
    const db = (await row(instance, "db")).pid;
    rmSync(w.go("db"));
    process.kill(db, "SIGKILL");
    const restarted = await eventually(async () => {
      const now = await row(instance, "db");
      return now.pid > 0 && now.pid !== db ? now : null;
    }, 30_000, "db restarted");
    expect(restarted).toMatchObject({ state: "starting", ready: false, restarts: 1 });
    expect(await row(instance, "web")).toMatchObject({ pid: web, state: "running", restarts: 0 });
    w.ready("db");
    await eventually(async () => (await row(instance, "db")).ready, 30_000, "db ready again");
    expect((await row(instance, "web")).pid).toBe(web);
  }, 90_000);

  it("ham_ready is made once across a takeover (fail point at its journal write): one dependent, the call answered 0", async () => {
    const w = world();
    w.ready("db");
    const instance = await startHam(["--config", w.config([{ name: "db", how: "api" }, { name: "web", requires: ["db"] }])], { HAMD_FAILPOINT: "journal-write:ready" });
    await eventually(() => w.events().includes("db ready"), 30_000, "db's ham_ready answered");
    expect(readFileSync(w.log, "utf8")).toMatch(/^db ham_ready 0 \d+$/m);
    expect((await status(instance.runDir)).hamFailures).toBe(1);
    const web = await eventually(async () => ((await row(instance, "web")).state === "running" ? (await row(instance, "web")).pid : 0), 30_000, "web started");
    expect(processesOf(instance.runDir, "web")).toEqual([web]);
    expect((await row(instance, "db")).ready).toBe(true);
    await eventually(() => w.events().includes("web started"), 30_000, "web's log");
    expect(w.events().filter((event) => event === "web started")).toHaveLength(1);
  }, 90_000);
});
