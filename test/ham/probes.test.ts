import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { cleanup, entityPid, eventually, HAMCTL_BIN, isAlive, startHam, tempDir, type HamInstance } from "../helpers/ham-instance.js";
import { attachSleeper, killHam, status } from "../helpers/takeover.js";

// Health probes (issue 18): real HAMs, real probes from the prober process against real
// servers of this test, real restarts.

const servers: Array<HttpServer | TcpServer> = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await cleanup();
});

// An HTTP server answering `status` (changeable), counting the requests it answered with each.
async function httpServer(): Promise<{ url: string; status: number; answered: Map<number, number> }> {
  const state = { url: "", status: 200, answered: new Map<number, number>() };
  const server = createHttpServer((request, response) => {
    state.answered.set(state.status, (state.answered.get(state.status) ?? 0) + 1);
    response.writeHead(state.status, { "content-type": "text/plain" });
    response.end(state.status === 200 ? "all good\n" : "broken\n");
  });
  server.on("connection", (socket) => sockets.add(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  state.url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/health`;
  return state;
}

// A TCP listener counting connections (the times they came), and a port nothing listens on.
async function tcpServer(): Promise<{ port: number; connections: number[]; server: TcpServer }> {
  const connections: number[] = [];
  const server = createTcpServer((socket) => {
    connections.push(Date.now());
    sockets.add(socket);
    socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { port: typeof address === "object" && address !== null ? address.port : 0, connections, server };
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 0;
}

async function withHam(): Promise<HamInstance> {
  const instance = await startHam();
  process.env["HAM_RUN_DIR"] = instance.runDir;
  return instance;
}

function statusJson(instance: HamInstance): Record<string, unknown> {
  const result = spawnSync(HAMCTL_BIN, ["--run-dir", instance.runDir, "--json", "status"], { encoding: "utf8" });
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const probeLog = (instance: HamInstance, event: string) => instance.logLines().filter((line) => line["event"] === event);

describe("health probes", () => {
  it("restarts an entity whose http probe fails 3 times in a row, once, and not while it passes", async () => {
    const instance = await withHam();
    const server = await httpServer();
    await attachSleeper("web");
    const web = await ham.ham_entity_handle(0, "web");
    await ham.ham_entity_probe(web, { kind: "http", url: server.url, bodyContains: "good", intervalMs: 150, timeoutMs: 1_000, failureThreshold: 3 });
    const unhealthy = await ham.ham_condition(web, ham.CONDPROBEFAIL, "unhealthy", ham.HREARMAFTERRESTART);
    await ham.ham_action_restart(unhealthy, "restart", "/bin/sleep 1000", 0);
    const pid = await entityPid(instance, "web");
    await eventually(async () => (await instance.field("/web/.info", "Probe Result")) === "ok", 20_000, "the probe to pass");
    expect(await instance.field("/web/.info", "Probe Kind")).toBe(`http GET ${server.url}`);

    server.status = 500;
    const next = await eventually(async () => {
      const now = await entityPid(instance, "web");
      return now !== pid && now > 0 ? now : 0;
    }, 15_000, "the restart after 3 failed checks");
    // Back to healthy before the new process's probes could fail 3 times again.
    server.status = 200;
    expect(server.answered.get(500) ?? 0).toBeGreaterThanOrEqual(3);
    expect(isAlive(pid)).toBe(false);
    const failed = probeLog(instance, "probe-failed");
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.["msg"])).toContain("failed 3 times in a row: HTTP 500");
    expect(await instance.field("/web/unhealthy/.info", "Times Fired")).toBe("1");
    expect(await instance.field("/web/.info", "Num Restarts")).toBe("1");
    expect(await instance.field("/web/.info", "Probe Episodes")).toBe("1");
    // The new process is probed again (from zero) and passes; nothing more fires.
    await eventually(async () => (await instance.field("/web/.info", "Probe Result")) === "ok", 10_000, "the new process's probe to pass");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await entityPid(instance, "web")).toBe(next);
    expect(await instance.field("/web/unhealthy/.info", "Times Fired")).toBe("1");
  });

  it("fails a tcp probe to a closed port, fires its condition once per episode, and ends the episode when it passes", async () => {
    const instance = await withHam();
    const port = await closedPort();
    const dir = tempDir("probe-tcp");
    await attachSleeper("db");
    const db = await ham.ham_entity_handle(0, "db");
    await ham.ham_entity_probe(db, { kind: "tcp", port, intervalMs: 100, timeoutMs: 500, failureThreshold: 2, successThreshold: 2 });
    const down = await ham.ham_condition(db, ham.CONDPROBEFAIL, "down", 0);
    await ham.ham_action_execute(down, "note", `/usr/bin/touch ${join(dir, "fired")}`, 0);
    await eventually(() => existsSync(join(dir, "fired")), 10_000, "the condition to fire");
    expect(await instance.field("/db/.info", "Probe Result")).toBe("failed");
    expect(await instance.field("/db/.info", "Probe Last Error")).toBe("connect: ECONNREFUSED");
    // Failing on: the count goes up, the condition fired once.
    await eventually(async () => Number(await instance.field("/db/.info", "Probe Fails Row")) >= 6, 10_000, "more failures");
    expect(await instance.field("/db/down/.info", "Times Fired")).toBe("1");
    const row = (statusJson(instance)["probes"] as Array<Record<string, unknown>>)[0];
    expect(row).toMatchObject({ entity: "db", name: "tcp", kind: "tcp", use: "liveness", result: "failed", failing: true });
    const ps = JSON.parse(spawnSync(HAMCTL_BIN, ["--run-dir", instance.runDir, "--json", "ps"], { encoding: "utf8" }).stdout) as Array<Record<string, unknown>>;
    expect(ps[0]).toMatchObject({ name: "db", probe: "failing", probeFailures: 1 });
    expect(spawnSync(HAMCTL_BIN, ["--run-dir", instance.runDir, "ps"], { encoding: "utf8" }).stdout).toMatch(/PROBES[\s\S]*failing/);

    // Something listens now: two passes end the episode; a new failure run fires again.
    const listener = createTcpServer((socket) => socket.destroy());
    servers.push(listener);
    await new Promise<void>((resolve) => listener.listen(port, "127.0.0.1", resolve));
    await eventually(() => probeLog(instance, "probe-passed").length === 1, 10_000, "the episode to end");
    expect(String(probeLog(instance, "probe-passed")[0]?.["msg"])).toContain("passes again (2 in a row)");
    expect(await instance.field("/db/.info", "Probe Result")).toBe("ok");
    rmSync(join(dir, "fired"));
    await new Promise((resolve) => listener.close(resolve));
    await eventually(() => existsSync(join(dir, "fired")), 10_000, "the second episode's firing");
    expect(await instance.field("/db/down/.info", "Times Fired")).toBe("2");
    expect(await instance.field("/db/.info", "Probe Episodes")).toBe("2");
  });

  it("counts an exec probe's exit status, waits out its start grace, and says when a readiness probe passes", async () => {
    const instance = await withHam();
    const dir = tempDir("probe-exec");
    const flag = join(dir, "healthy");
    writeFileSync(flag, "");
    const tcp = await tcpServer();
    const startedAt = Date.now();
    await attachSleeper("job");
    const job = await ham.ham_entity_handle(0, "job");
    await ham.ham_entity_probe(job, { kind: "exec", name: "file", command: `/usr/bin/test -e ${flag}`, intervalMs: 100, failureThreshold: 3 });
    await ham.ham_entity_probe(job, { kind: "tcp", name: "ready", use: "readiness", port: tcp.port, intervalMs: 100, startGraceMs: 1_500 });
    const bad = await ham.ham_condition(job, ham.CONDPROBEFAIL, "bad", 0);
    await ham.ham_action_log(bad, "say", "job is bad", 0, 0);
    // The readiness probe's first check waits for its grace; then the entity is ready.
    await eventually(() => probeLog(instance, "probe-ready").length === 1, 20_000, "readiness");
    expect(tcp.connections[0] ?? 0).toBeGreaterThanOrEqual(startedAt + 1_500);
    expect(probeLog(instance, "probe-ready")[0]).toMatchObject({ entity: "job", probe: "ready" });
    expect(await instance.field("/job/.info", "Probe Result")).toBe("ok");

    rmSync(flag);
    await eventually(() => probeLog(instance, "probe-failed").length === 1, 10_000, "the exec probe to fail");
    expect(String(probeLog(instance, "probe-failed")[0]?.["msg"])).toContain("failed 3 times in a row: exit status 1");
    expect(await instance.field("/job/bad/.info", "Times Fired")).toBe("1");
    // A readiness probe fails without firing CONDPROBEFAIL.
    await new Promise((resolve) => tcp.server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await eventually(() => probeLog(instance, "probe-failed").length === 2, 10_000, "the readiness probe to fail");
    expect(probeLog(instance, "probe-failed")[1]).toMatchObject({ probe: "ready", use: "readiness" });
    expect(await instance.field("/job/bad/.info", "Times Fired")).toBe("1");
  });

  it("restarts after failed checks from a config file's probes: and CONDPROBEFAIL, and names the line of a bad probe", async () => {
    const dir = tempDir("probe-config");
    const port = await closedPort();
    const file = join(dir, "ham.yaml");
    writeFileSync(file, [
      "entities:",
      "  - name: web",
      "    command: /bin/sleep 1000",
      `    probes: [{ kind: tcp, port: ${port}, intervalMs: 100, failureThreshold: 2 }]`,
      "    conditions:",
      "      - { name: died, type: CONDDEATH, flags: HREARMAFTERRESTART, actions: [{ name: restart, kind: restart, flags: HREARMAFTERRESTART }] }",
      "      - { name: unhealthy, type: CONDPROBEFAIL, flags: HREARMAFTERRESTART, actions: [{ name: restart, kind: restart }] }",
      "",
    ].join("\n"));
    const instance = await startHam(["--config", file]);
    const pid = await eventually(() => entityPid(instance, "web"), 10_000, "web");
    await eventually(async () => {
      const now = await entityPid(instance, "web");
      return now !== pid && now > 0;
    }, 15_000, "the restart after 2 failed checks");
    expect(Number(await instance.field("/web/.info", "Num Restarts"))).toBeGreaterThanOrEqual(1);
    expect(await instance.field("/web/.info", "Probe Kind")).toBe(`tcp 127.0.0.1:${port}`);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "entities:\n  - name: web2\n    command: /bin/sleep 1000\n    probes:\n      - { kind: http, url: \"ftp://x/\" }\n");
    const applied = spawnSync(HAMCTL_BIN, ["--run-dir", instance.runDir, "apply", bad], { encoding: "utf8" });
    expect(applied.status).toBe(1);
    expect(applied.stderr.trim()).toMatch(/^hamctl: .*line 5: entities\[0\]\.probes\[0\]\.url: must be an http:\/\/ or https:\/\/ URL$/);
  });

  it("refuses a bad probe spec with EINVAL", async () => {
    await withHam();
    await attachSleeper("svc");
    const svc = await ham.ham_entity_handle(0, "svc");
    const bad: unknown[] = [
      { kind: "http", url: "ftp://127.0.0.1/" },
      { kind: "tcp" },
      { kind: "tcp", port: 70_000 },
      { kind: "exec", command: "'unterminated" },
      { kind: "http", url: "http://127.0.0.1/", bodyMatches: "(" },
      { kind: "tcp", port: 80, intervalMs: 10 },
      { kind: "tcp", port: 80, failureThreshold: 0 },
      { kind: "tcp", port: 80, colour: "red" },
      { kind: "smtp", port: 25 },
    ];
    for (const spec of bad) {
      await expect(ham.ham_entity_probe(svc, spec as ham.ProbeOptions), JSON.stringify(spec)).rejects.toMatchObject({ code: "EINVAL" });
    }
    await expect(ham.ham_entity_probe(await ham.ham_entity_handle(0, null), { kind: "tcp", port: 80 })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(ham.ham_entity_probe_remove(svc, "tcp")).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("keeps probing after the HAM is SIGKILLed and its Guardian takes over", async () => {
    const instance = await withHam();
    const tcp = await tcpServer();
    const dir = tempDir("probe-takeover");
    await attachSleeper("api");
    const api = await ham.ham_entity_handle(0, "api");
    await ham.ham_entity_probe(api, { kind: "tcp", port: tcp.port, intervalMs: 100, failureThreshold: 2 });
    const down = await ham.ham_condition(api, ham.CONDPROBEFAIL, "down", 0);
    await ham.ham_action_execute(down, "note", `/usr/bin/touch ${join(dir, "fired")}`, 0);
    await eventually(() => tcp.connections.length >= 2, 10_000, "probing");
    const { before } = await killHam(instance);
    const seen = tcp.connections.length;
    await eventually(() => tcp.connections.length > seen + 2, 10_000, "probing by the new HAM's prober");
    const after = await status(instance.runDir) as unknown as { hamPid: number; prober: { pid: number } };
    expect(after.hamPid).not.toBe(before.hamPid);
    expect(after.prober.pid).toBeGreaterThan(0);
    expect(await instance.field("/api/.info", "Probe Kind")).toBe(`tcp 127.0.0.1:${tcp.port}`);
    await new Promise((resolve) => tcp.server.close(resolve));
    await eventually(() => existsSync(join(dir, "fired")), 10_000, "the probe condition to fire under the new HAM");
    expect(await instance.field("/api/down/.info", "Times Fired")).toBe("1");
  });

  it("survives the prober's death: counted, logged, a new prober probing again", async () => {
    const instance = await withHam();
    const tcp = await tcpServer();
    await attachSleeper("cache");
    const cache = await ham.ham_entity_handle(0, "cache");
    await ham.ham_entity_probe(cache, { kind: "tcp", port: tcp.port, intervalMs: 100 });
    const first = await eventually(() => (statusJson(instance)["prober"] as { pid: number }).pid, 10_000, "the prober");
    await eventually(() => tcp.connections.length >= 2, 10_000, "probing");
    process.kill(first, "SIGKILL");
    const second = await eventually(() => {
      const prober = statusJson(instance)["prober"] as { pid: number; failures: number };
      return prober.failures === 1 && prober.pid > 0 && prober.pid !== first ? prober.pid : 0;
    }, 10_000, "a new prober");
    const seen = tcp.connections.length;
    await eventually(() => tcp.connections.length > seen + 2, 10_000, "probing again");
    expect(isAlive(second)).toBe(true);
    expect(probeLog(instance, "prober-death")).toHaveLength(1);
    expect(await entityPid(instance, "cache")).toBeGreaterThan(0);
  });
});
