import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { parseMetricsAddress } from "../../dist/ham/daemon/metrics-options.js";
import { labelValue } from "../../dist/ham/server/metrics-text.js";
import { cleanup, entityPid, eventually, FIXTURES, HAM_BIN, killRunDir, ROOT, startHam, tempDir } from "../helpers/ham-instance.js";
import { attachSleeper, killHam } from "../helpers/takeover.js";
import { memberEntity } from "../helpers/members.js";

// `ham --metrics HOST:PORT` (issue 18): Prometheus text at /metrics, scraped over HTTP as a
// Prometheus server would, checked with `promtool check metrics` where Debian's `prometheus` is.

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

// A port free now on 127.0.0.1 (bound, read, released).
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}

async function scrape(port: number): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() };
}

// The value of one sample (`name{labels} value`), or undefined when the output has none.
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = (match[2] ?? "").split(",").filter(Boolean);
    if (wanted.every((pair) => have.includes(pair)) && have.length === wanted.length) return Number(match[3]);
  }
  return undefined;
}

const promtool = spawnSync("promtool", ["--version"]).error === undefined;

function checkWithPromtool(text: string): void {
  if (!promtool) {
    console.log("promtool not found (Debian package `prometheus`): the output's format is not checked by promtool");
    return;
  }
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  expect(`${run.stdout}${run.stderr}`.trim()).toBe("");
  expect(run.status).toBe(0);
}

describe("the Prometheus endpoint", () => {
  it("counts a kill and its restart: restarts and deaths go up, up is 1 again, and promtool accepts the output", async () => {
    const port = await freePort();
    const instance = await startHam(["--metrics", `127.0.0.1:${port}`]);
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("web");
    // Protected: a ready Guardian stands behind the HAM (the socket answers a moment before).
    const first = await eventually(async () => {
      const scraped = await scrape(port);
      return sample(scraped.text, "hamd_protected") === 1 ? scraped : null;
    }, 10_000, "hamd_protected 1");
    expect(first.status).toBe(200);
    expect(first.type).toContain("text/plain; version=0.0.4");
    expect(sample(first.text, "hamd_entity_up", { entity: "web" })).toBe(1);
    expect(sample(first.text, "hamd_entity_restarts_total", { entity: "web" })).toBe(0);
    expect(sample(first.text, "hamd_info", { version: "0.1.0", node: process.versions.node })).toBe(1);
    const pid = await entityPid(instance, "web");
    process.kill(pid, "SIGKILL");
    const after = await eventually(async () => {
      const { text } = await scrape(port);
      return sample(text, "hamd_entity_restarts_total", { entity: "web" }) === 1 && sample(text, "hamd_entity_up", { entity: "web" }) === 1 ? text : null;
    }, 10_000, "a restart counted and the entity up again");
    expect(sample(after, "hamd_entity_deaths_total", { entity: "web" })).toBe(1);
    expect(sample(after, "hamd_entity_abnormal_deaths_total", { entity: "web" })).toBe(0);
    expect(sample(after, "hamd_entity_heartbeat_misses_total", { entity: "web", threshold: "low" })).toBe(0);
    const availability = sample(after, "hamd_entity_availability_ratio", { entity: "web" }) ?? -1;
    expect(availability).toBeGreaterThan(0);
    expect(availability).toBeLessThanOrEqual(1);
    expect(sample(after, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
    expect(sample(after, "nodejs_eventloop_lag_max_seconds")).toBeGreaterThanOrEqual(0);
    checkWithPromtool(after);
    // Only /metrics, only reads.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("shows each member's role, and a failover when the active is killed", async () => {
    const port = await freePort();
    const dir = tempDir("metrics-group");
    const config = join(dir, "ham.json");
    writeFileSync(config, JSON.stringify({
      metrics: `:${port}`,
      entities: [memberEntity("a"), memberEntity("b")],
      groups: [{ name: "db", model: "2N", members: ["a", "b"] }],
    }));
    const instance = await startHam(["--config", config]);
    const roles = await eventually(async () => {
      const { text } = await scrape(port);
      const a = sample(text, "hamd_group_member_role", { group: "db", entity: "a", role: "active" });
      return a === 1 && sample(text, "hamd_group_member_role", { group: "db", entity: "b", role: "standby" }) === 1 ? text : null;
    }, 20_000, "a active and b standby in the scrape");
    expect(sample(roles, "hamd_group_member_role", { group: "db", entity: "b", role: "standby" })).toBe(1);
    expect(sample(roles, "hamd_group_member_role", { group: "db", entity: "a", role: "standby" })).toBe(0);
    expect(sample(roles, "hamd_group_failovers_total", { group: "db" })).toBe(0);
    expect(sample(roles, "hamd_group_switchovers_total", { group: "db" })).toBe(0);
    checkWithPromtool(roles);
    process.kill(await entityPid(instance, "a"), "SIGKILL");
    const failedOver = await eventually(async () => {
      const { text } = await scrape(port);
      return sample(text, "hamd_group_failovers_total", { group: "db" }) === 1 ? text : null;
    }, 10_000, "the failover counted");
    expect(sample(failedOver, "hamd_group_member_role", { group: "db", entity: "b", role: "active" })).toBe(1);
  });

  it("is served again by the Guardian that takes over, with the takeover counted", async () => {
    const port = await freePort();
    const instance = await startHam(["--metrics", `127.0.0.1:${port}`]);
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("web");
    expect(sample((await scrape(port)).text, "hamd_takeovers_total")).toBe(0);
    await killHam(instance);
    const text = await eventually(async () => {
      const { text } = await scrape(port);
      return sample(text, "hamd_takeovers_total") === 1 ? text : null;
    }, 10_000, "the new HAM's endpoint");
    expect(sample(text, "hamd_entity_up", { entity: "web" })).toBe(1);
    checkWithPromtool(text);
  });

  it("after a takeover, a port in use is a warning, and the HAM binds it once it is free", async () => {
    const port = await freePort();
    const instance = await startHam(["--metrics", `127.0.0.1:${port}`]);
    const guardianPid = await eventually(async () => Number((await scrape(port)).text.includes("hamd_protected 1")) && ham_status(instance.runDir).guardianPid, 10_000, "a Guardian");
    const hamPid = instance.process.pid ?? 0;
    // The Guardian paused while the HAM dies and the port is taken: it takes over to a port in use.
    process.kill(guardianPid, "SIGSTOP");
    let holder: Server | null = null;
    try {
      process.kill(hamPid, "SIGKILL");
      holder = await eventually(() => occupy(port), 5_000, "the killed HAM's port");
    } finally {
      process.kill(guardianPid, "SIGCONT");
    }
    await eventually(() => instance.logLines().find((line) => line["event"] === "metrics-unavailable"), 10_000, "the warning");
    expect(ham_status(instance.runDir).hamPid).toBe(guardianPid);
    await new Promise((resolve) => holder?.close(resolve));
    const text = await eventually(async () => (await scrape(port).catch(() => null))?.text, 10_000, "the endpoint once the port is free");
    expect(sample(text, "hamd_takeovers_total")).toBe(1);
  });

  it("a port in use at start: one line, exit 1, and no HAM", async () => {
    const port = await freePort();
    const holder = await occupy(port);
    const runDir = tempDir("metrics-busy");
    try {
      for (const mode of [[], ["--foreground"]]) {
        const run = spawnSync(HAM_BIN, ["--run-dir", runDir, "--no-mount", "--metrics", `127.0.0.1:${port}`, ...mode], { encoding: "utf8", timeout: 20_000 });
        expect(run.stderr).toBe(`ham: --metrics 127.0.0.1:${port}: address already in use\n`);
        expect(run.status).toBe(1);
      }
    } finally {
      holder.close();
      await killRunDir(runDir);
    }
  });

  it("a bad address: a usage error (exit 2) on the command line, one line (exit 1) from the config file", () => {
    const runDir = tempDir("metrics-bad");
    const flag = spawnSync(HAM_BIN, ["--run-dir", runDir, "--no-mount", "--metrics", "localhost:http"], { encoding: "utf8" });
    expect(flag.status).toBe(2);
    expect(flag.stderr.split("\n")[0]).toBe('ham: --metrics takes HOST:PORT, :PORT or PORT (1-65535), not "localhost:http"');
    const config = join(runDir, "ham.json");
    writeFileSync(config, JSON.stringify({ metrics: "99999" }));
    const file = spawnSync(HAM_BIN, ["--run-dir", runDir, "--no-mount", "--config", config], { encoding: "utf8" });
    expect(file.stderr).toBe(`ham: ${config}: metrics: takes HOST:PORT, :PORT or PORT (1-65535), not "99999"\n`);
    expect(file.status).toBe(1);
  });

  it("a bare port or :PORT listens on loopback; a host is kept", () => {
    expect(parseMetricsAddress("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseMetricsAddress(":9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseMetricsAddress("0.0.0.0:9464")).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(parseMetricsAddress("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseMetricsAddress("node1.example:80")).toEqual({ host: "node1.example", port: 80 });
    expect(() => parseMetricsAddress("0")).toThrow(/1-65535/);
  });

  it("escapes an entity name's backslash, double quote and newline in its label", () => {
    expect(labelValue('web "a"\\b\nc')).toBe('web \\"a\\"\\\\b\\nc');
    expect(labelValue("plain-name.1")).toBe("plain-name.1");
  });
});

// The HAM's status, from hamctl.
function ham_status(runDir: string): { hamPid: number; guardianPid: number } {
  const run = spawnSync(process.execPath, [join(ROOT, "dist/lib/hamctl/main.js"), "--run-dir", runDir, "status", "--json"], { encoding: "utf8" });
  return JSON.parse(run.stdout) as { hamPid: number; guardianPid: number };
}

describe("a HAM without --metrics", () => {
  // prom-client is loaded by import() with --metrics only (daemon/metrics-service.ts).
  function modulesLoadedBy(script: string): string[] {
    const dir = tempDir("imports");
    const record = join(dir, "imports");
    const run = spawnSync(process.execPath, ["--import", join(FIXTURES, "record-imports.mjs"), "--input-type=module", "-e", script], {
      cwd: ROOT, env: { ...process.env, HAMD_RECORD_IMPORTS: record }, encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const loaded = readFileSync(record, "utf8").split("\n").filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    return loaded.filter((url) => /node_modules\/prom-client\//.test(url));
  }

  it("loads no prom-client (the daemon, ham's options), and the check sees it when the metrics are loaded", () => {
    expect(modulesLoadedBy(`await import("./dist/ham/daemon/ham.js"); await import("./dist/ham/daemon/options.js");`)).toEqual([]);
    expect(modulesLoadedBy(`await import("./dist/ham/server/metrics.js");`).length).toBeGreaterThan(0);
  });

  it("the Guardian's bundle imports prom-client only from a chunk loaded by import()", () => {
    const dir = join(ROOT, "dist/guardian");
    const chunks = new Map(readdirSync(dir).filter((name) => /^guardian[.-].*\.mjs$/.test(name)).map((name) => [name, readFileSync(join(dir, name), "utf8")]));
    const hamChunk = [...chunks].find(([, text]) => text.includes("var Ham = class"))?.[0] ?? "";
    // Everything the bundle and the HAM's chunk load statically.
    const loaded = new Set<string>();
    const visit = (name: string) => {
      if (loaded.has(name)) return;
      loaded.add(name);
      for (const match of (chunks.get(name) ?? "").matchAll(/^import (?:[^;]*? from )?"\.\/([^"]+)";$/gms)) visit(match[1] ?? "");
    };
    visit("guardian.bundle.mjs");
    visit(hamChunk);
    const withPromClient = [...chunks].filter(([, text]) => /^import .* from "prom-client";$/m.test(text)).map(([name]) => name);
    expect(withPromClient.length).toBe(1);
    expect([...loaded].filter((name) => withPromClient.includes(name))).toEqual([]);
  });
});
