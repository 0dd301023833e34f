import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { Session } from "../../dist/lib/client/session.js";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { eventually, HAM_BIN, isAlive, killRunDir, ROOT } from "../helpers/ham-instance.js";
import { attachSleeper, guardianReady, processesOf } from "../helpers/takeover.js";

// examples/systemd/hamd.service, read and run the way systemd reads and runs it.
const UNIT = join(ROOT, "examples/systemd/hamd.service");

type Unit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

// systemd's unit syntax, as much as the unit uses: [Section], Key=Value (a key may repeat),
// comments (# ;), and a trailing backslash continuing a line.
function parseUnit(text: string): Unit {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  const lines = text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim());
  for (const line of lines) {
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1] ?? "", current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === null || eq <= 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

// systemd's command line splitting (no shell): words split on blanks, "..." and '...' quote,
// a backslash escapes the next character, ${VAR} is replaced from the unit's Environment=.
function splitCommand(line: string, env: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i] ?? "";
    if (char === "\\") {
      word = (word ?? "") + (line[i + 1] ?? "");
      i += 1;
    } else if (quote !== null) {
      if (char === quote) quote = null;
      else word = (word ?? "") + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word = word ?? "";
    } else if (/\s/.test(char)) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? "") + char;
  }
  if (quote !== null) throw new Error(`unterminated quote in ${line}`);
  if (word !== null) words.push(word);
  return words.map((w) => w.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? ""));
}

const value = (unit: Unit, section: string, key: string): string | undefined => unit.get(section)?.get(key)?.at(-1);

function environmentOf(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignments of unit.get("Service")?.get("Environment") ?? []) {
    for (const assignment of splitCommand(assignments, {})) {
      const eq = assignment.indexOf("=");
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return env;
}

const unit = parseUnit(readFileSync(UNIT, "utf8"));
let base = "";
const children: ChildProcess[] = [];

afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (base === "") return;
  const runDir = join(base, "run");
  await killRunDir(runDir); // the HAM, its Guardian, the entity: each carries HAM_RUN_DIR
  rmSync(stateDirOf(runDir), { recursive: true, force: true });
  rmSync(base, { recursive: true, force: true });
  base = "";
});

describe("examples/systemd/hamd.service", () => {
  it("runs ham in the foreground as a notify service any of its processes may speak for, restarts it always after 1 s, and stops only the HAM", () => {
    expect([...unit.keys()]).toEqual(["Unit", "Service", "Install"]);
    // READY=1, MAINPID= after a takeover, STOPPING=1, WATCHDOG=1 (test/examples/systemd-notify.test.ts).
    expect(value(unit, "Service", "Type")).toBe("notify");
    expect(value(unit, "Service", "NotifyAccess")).toBe("all");
    expect(value(unit, "Service", "WatchdogSec")).toBe("30");
    expect(value(unit, "Service", "Restart")).toBe("always");
    expect(value(unit, "Service", "RestartSec")).toBe("1");
    expect(value(unit, "Service", "KillMode")).toBe("process");
    expect(value(unit, "Unit", "StartLimitIntervalSec")).toBe("0");
    expect(value(unit, "Install", "WantedBy")).toBe("multi-user.target");
    expect(unit.get("Service")?.get("ExecStart")).toHaveLength(1);
    const argv = splitCommand(value(unit, "Service", "ExecStart") ?? "", environmentOf(unit));
    expect(argv).toEqual(["/usr/bin/env", "ham", "--foreground"]);
  });

  it("starts as systemd starts it; a stop (SIGTERM) exits 0, leaves the monitored process running and keeps the state; the next start adopts it", async () => {
    base = mkdtempSync(join(tmpdir(), "hamd-systemd-"));
    const runDir = join(base, "run");
    // `ham` on the PATH is this checkout's, as `npm install -g hamd` puts it in /usr/local/bin.
    const bin = join(base, "bin");
    mkdirSync(bin);
    symlinkSync(HAM_BIN, join(bin, "ham"));
    const env = { ...process.env, ...environmentOf(unit), HAM_RUN_DIR: runDir, PATH: `${bin}:${process.env["PATH"] ?? ""}` };
    // The unit's own run directory (/run/ham) is replaced by the test's, and no /ham is mounted.
    const argv = [...splitCommand(value(unit, "Service", "ExecStart") ?? "", env), "--no-mount"];
    const start = () => {
      const child = spawn(argv[0] ?? "", argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
      children.push(child);
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      return { child, exited, stderr: () => stderr };
    };

    const first = start();
    const before = await guardianReady(runDir);
    expect(before.hamPid).toBe(first.child.pid);
    process.env["HAM_RUN_DIR"] = runDir;
    await attachSleeper("sleeper");
    await ham.ham_disconnect(0);
    const [sleeper] = await eventually(() => {
      const pids = processesOf(runDir, "sleeper");
      return pids.length === 1 ? pids : null;
    }, 5_000, "the sleeper");

    // systemctl stop, KillMode=process: SIGTERM to the main process only.
    process.kill(first.child.pid ?? 0, "SIGTERM");
    expect(await first.exited, first.stderr()).toEqual({ code: 0, signal: null });
    await eventually(() => !isAlive(before.guardianPid), 5_000, "the Guardian gone with its HAM");
    expect(isAlive(sleeper ?? 0)).toBe(true);
    expect(existsSync(stateDirOf(runDir))).toBe(true);

    // systemctl start (or Restart=always): the same process, adopted, not started again.
    const second = start();
    const after = await guardianReady(runDir);
    expect(after.hamPid).toBe(second.child.pid);
    const session = await Session.open(runDir);
    try {
      expect(String(await session.request("cat", { path: "/sleeper/.info" }))).toMatch(new RegExp(`Entity Pid *: ${sleeper}\\n`));
    } finally {
      session.close();
    }
    expect(processesOf(runDir, "sleeper")).toEqual([sleeper]);
  });
});
