import { spawn, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Session } from "../lib/client/session.js";
import { environOf, isSameProcessAlive, readProcStat } from "../lib/proc.js";
import { socketPathOf } from "../lib/run-dir.js";
import { socketAnswers } from "../lib/wire/probe.js";
import type { GroupRow } from "../lib/wire/ps-row.js";

// The HAM under test, seen from outside as a user sees it: started with the `ham` bin,
// asked through the socket, its processes found in /proc (each one the HAM started carries
// HAM_RUN_DIR and HAM_ENTITY in its environment, and HAM_SPAWN when a restart made it).

export const HAM_BIN = fileURLToPath(new URL("../ham/main.js", import.meta.url));

export interface Status {
  readonly hamPid: number;
  readonly guardianPid: number;
  readonly hamFailures: number;
  readonly guardianFailures: number;
  readonly groups?: readonly GroupRow[];
}

export interface EntityInfo {
  readonly pid: number;
  readonly fields: ReadonlyMap<string, string>;
}

export class System {
  private probe: Session | null = null;

  constructor(readonly runDir: string) {}

  // Starts the HAM as a user does: `ham` returns once it answers (and, fixed by the lab's
  // first finding, once a ready Guardian stands behind it).
  start(args: readonly string[]): void {
    const result = spawnSync(HAM_BIN, ["--run-dir", this.runDir, ...args], { encoding: "utf8", timeout: 30_000 });
    if (result.status !== 0) throw new Error(`ham did not start (exit ${result.status}): ${result.stderr.trim()}`);
  }

  // Why the HAM serves no /ham view, as its log says (no FUSE here, say), or null.
  noMountReason(): string | null {
    let log = "";
    try {
      log = readFileSync(join(this.runDir, "ham.log"), "utf8");
    } catch {
      return null;
    }
    for (const line of log.split("\n")) {
      if (!line.includes('"no-mount"')) continue;
      try {
        const entry = JSON.parse(line) as { event?: unknown; reason?: unknown };
        if (entry.event === "no-mount" && typeof entry.reason === "string") return entry.reason;
      } catch {
        // not a JSON line
      }
    }
    return null;
  }

  // One request through a fresh connection, so a dead HAM is seen as refused at once.
  async ask(op: string, args: unknown = {}, timeoutMs = 1_000): Promise<unknown> {
    const session = await Session.open(this.runDir, timeoutMs, false);
    try {
      return await session.request(op, args, timeoutMs);
    } finally {
      session.close();
    }
  }

  async status(timeoutMs = 1_000): Promise<Status | null> {
    try {
      return (await this.ask("status", {}, timeoutMs)) as Status;
    } catch {
      return null;
    }
  }

  // Through one kept connection (cheap enough to poll every few ms); reopened after a failure.
  async cat(path: string, timeoutMs = 2_000): Promise<string | null> {
    try {
      this.probe ??= await Session.open(this.runDir, timeoutMs, false);
      return String(await this.probe.request("cat", { path }, timeoutMs));
    } catch {
      this.probe?.close();
      this.probe = null;
      return null;
    }
  }

  async entity(name: string): Promise<EntityInfo | null> {
    const text = await this.cat(`/${name}/.info`);
    if (text === null) return null;
    const fields = new Map<string, string>();
    for (const line of text.split("\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return { pid: Number(fields.get("Entity Pid") ?? 0), fields };
  }

  async names(): Promise<string[] | null> {
    try {
      const node = (await this.ask("ls", { path: "/" }, 2_000)) as { entries: Array<{ name: string; type: string }> };
      return node.entries.filter((entry) => entry.type === "dir" && !entry.name.startsWith(".")).map((entry) => entry.name);
    } catch {
      return null;
    }
  }

  answers(): Promise<boolean> {
    return socketAnswers(socketPathOf(this.runDir));
  }

  // The HAM's pid as its pid file says, when that process is alive and serves this run directory.
  hamPid(): number {
    let pid = 0;
    try {
      pid = Number.parseInt(readFileSync(`${this.runDir}/ham.pid`, "utf8"), 10) || 0;
    } catch {
      return 0;
    }
    return pid > 0 && isSameProcessAlive(pid, null) && this.ours(pid) ? pid : 0;
  }

  // The HAM's Guardian process, ready or still starting: its live child running the Guardian
  // (dist/guardian/guardian.bundle.mjs, or guardian/main.js without the bundle).
  guardianOf(hamPid: number): number {
    if (hamPid <= 0) return 0;
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const stat = readProcStat(pid);
      if (stat === null || stat.parentPid !== hamPid || stat.state === "Z") continue;
      if (/\/guardian\/(main\.js|guardian\.bundle\.mjs)/.test(commandLineOf(pid))) return pid;
    }
    return 0;
  }

  // Live processes the HAM started (restart actions and first starts), by entity name. A
  // process's own children inherit its HAM_SPAWN token: only the one whose parent does not
  // carry that token is the entity's process.
  processes(): Map<string, number[]> {
    const spawned = new Map<number, { entity: string; token: string; parentPid: number }>();
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const env = environOf(pid);
      const token = env.find((entry) => entry.startsWith("HAM_SPAWN="));
      if (token === undefined || !env.includes(`HAM_RUN_DIR=${this.runDir}`)) continue;
      const stat = readProcStat(pid);
      if (stat === null || stat.state === "Z" || stat.state === "X") continue;
      const entity = env.find((entry) => entry.startsWith("HAM_ENTITY="))?.slice("HAM_ENTITY=".length) ?? "?";
      spawned.set(pid, { entity, token, parentPid: stat.parentPid });
    }
    const byEntity = new Map<string, number[]>();
    for (const [pid, process] of spawned) {
      if (spawned.get(process.parentPid)?.token === process.token) continue;
      byEntity.set(process.entity, [...(byEntity.get(process.entity) ?? []), pid]);
    }
    return byEntity;
  }

  // Every live process carrying this run directory (the HAM's, the Guardian's, the entities',
  // the lab's clients'): what the lab ends when it stops.
  everyProcess(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      const pid = Number(name);
      if (environOf(pid).includes(`HAM_RUN_DIR=${this.runDir}`) || this.ours(pid)) pids.push(pid);
    }
    return pids;
  }

  ours(pid: number): boolean {
    return commandLineOf(pid).includes(this.runDir);
  }

  closeProbe(): void {
    this.probe?.close();
    this.probe = null;
  }

  // Lazily unmounts every FUSE mount under the run directory (the HAM's view), without a shell.
  unmountAll(): void {
    let mounts = "";
    try {
      mounts = readFileSync("/proc/mounts", "utf8");
    } catch {
      return;
    }
    for (const line of mounts.split("\n")) {
      const point = line.split(" ")[1]?.replace(/\\040/g, " ");
      if (point !== undefined && point.startsWith(this.runDir)) spawnSync("fusermount", ["-u", "-z", point], { stdio: "ignore" });
    }
  }
}

export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

// Starts a helper of the lab (a client) with the run directory in its environment.
export function startHelper(script: string, args: readonly string[], runDir: string) {
  return spawn(process.execPath, [script, ...args], {
    stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, HAM_RUN_DIR: runDir },
  });
}
