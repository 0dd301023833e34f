import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Session } from "../../dist/lib/client/session.js";
import { stateDirOf } from "../../dist/ham/adapters/store.js";
import { currentHamPid, eventually, HAM_BIN, isAlive, killRunDir } from "../helpers/ham-instance.js";
import { PidKeeper } from "../helpers/processes.mjs";
import { guardianReady, status, type Status } from "../helpers/takeover.js";

// A HAM whose terminal went away (issue 16): `npm start` in a terminal that is then closed.
// The terminal is a real pseudo-terminal, util-linux `script`'s: SIGKILL of `script` closes
// its master side, so the HAM's writes to stderr fail with EIO, and its session leader gets
// the kernel's SIGHUP.

// A worker that dies every 0.2 s and is restarted (a death logged after the terminal closed),
// and one that never dies (a monitored process the HAM leaves running when it stops).
const CONFIG = {
  entities: [
    {
      name: "crasher", command: "/bin/sh -c 'sleep 0.2; exit 3'", policy: { minUptimeMs: 0 },
      conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"],
        actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
    },
    { name: "sleeper", command: "/bin/sleep 1000" },
  ],
};

interface Terminal {
  readonly runDir: string;
  readonly scriptPid: number;
  // What the terminal showed so far.
  screen(): string;
}

const keeper = new PidKeeper();
const runDirs: string[] = [];

afterEach(async () => {
  // `script`, the shells and every HAM started here; then whatever carries the run directory
  // (Guardians, entities, a Guardian that took over), until none is left.
  for (const runDir of runDirs) {
    const pid = currentHamPid(runDir);
    if (pid > 0 && commandLineOf(pid).includes(runDir)) keeper.add(pid);
  }
  keeper.killAll();
  for (const runDir of runDirs.splice(0)) {
    await killRunDir(runDir);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(stateDirOf(runDir), { recursive: true, force: true });
  }
});

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return "";
  }
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

// A terminal as a user's: colours known. CI runs with no TERM and with CI set, and Node's
// hasColors() is false for either (lib/internal/tty.js: a CI without a known vendor is 2 colours);
// so is any NO_COLOR, FORCE_COLOR=0 or NODE_DISABLE_COLORS the runner may carry.
const NOT_A_USERS_TERMINAL = new Set(["CI", "NO_COLOR", "FORCE_COLOR", "NODE_DISABLE_COLORS", "TMUX", "COLORTERM"]);
const TERMINAL_ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !NOT_A_USERS_TERMINAL.has(name))),
  SHELL: "/bin/sh", TERM: "xterm-256color",
};

// Runs `shellCommand` (sh) in a new terminal; `{HAM}` in it stands for `npm start`'s command
// line on a run directory of its own. Resolves once that HAM is protected by its Guardian.
async function inTerminal(shellCommand: string): Promise<Terminal & { ham: Status }> {
  const runDir = mkdtempSync(join(tmpdir(), "hamd-terminal-"));
  runDirs.push(runDir);
  const config = join(runDir, "config.json");
  writeFileSync(config, JSON.stringify(CONFIG));
  const ham = [HAM_BIN, "--foreground", "--no-mount", "--run-dir", runDir, "--config", config, "-v"].map(quote).join(" ");
  const script = spawn("script", ["-qfec", shellCommand.replaceAll("{HAM}", ham).replaceAll("{RUN_DIR}", quote(runDir)), "/dev/null"], {
    stdio: ["ignore", "pipe", "ignore"], env: TERMINAL_ENV,
  });
  keeper.add(script.pid ?? 0);
  let screen = "";
  script.stdout.on("data", (chunk: Buffer) => {
    screen += chunk.toString();
  });
  const started = await guardianReady(runDir);
  keeper.add(started.hamPid);
  const shell = join(runDir, "shell.pid");
  if (existsSync(shell)) keeper.add(Number(readFileSync(shell, "utf8")));
  return { runDir, scriptPid: script.pid ?? 0, screen: () => screen, ham: started };
}

async function field(runDir: string, path: string, label: string): Promise<number> {
  const session = await Session.open(runDir);
  try {
    const text = String(await session.request("cat", { path }));
    return Number(new RegExp(`^${label} *: *(\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  } finally {
    session.close();
  }
}

const logWriteFailures = async (runDir: string) => ((await status(runDir)) as Status & { logWriteFailures: number }).logWriteFailures;

// The terminal closes; the HAM goes on: a death is logged (and its line lost) after the close.
async function closeTerminal(terminal: Terminal): Promise<void> {
  expect(await logWriteFailures(terminal.runDir)).toBe(0);
  const deaths = await field(terminal.runDir, "/crasher/.info", "Num Deaths");
  process.kill(terminal.scriptPid, "SIGKILL");
  await eventually(async () => await logWriteFailures(terminal.runDir) > 0 && await field(terminal.runDir, "/crasher/.info", "Num Deaths") > deaths,
    5_000, "a death logged into the closed terminal");
}

// A HAM outside the terminal's session (setsid: no controlling terminal, so no SIGHUP when it
// closes) whose stderr is still the terminal (pretty lines). The shell ignores the hangup,
// keeps the HAM's exit status, and holds the terminal open until it is closed.
const OUTSIDE = "trap '' HUP; echo $$ > {RUN_DIR}/shell.pid; setsid {HAM}; echo $? > {RUN_DIR}/exit-status; exec sleep 1000";

const gone = (...pids: number[]) => eventually(() => pids.every((pid) => !isAlive(pid)), 1_000, `pids ${pids.join(", ")} to end`);

// The `npm start` terminal shows pino-pretty's human lines, in colour.
const PRETTY_START = /\d\d:\d\d:\d\d\.\d{3} \u001b\[32mINFO\u001b\[39m: .*HAM started/;

describe("a HAM whose terminal went away", () => {
  it("stops when its terminal closes, as on SIGTERM: state kept, its processes running, its Guardian gone", async () => {
    // The HAM leads the terminal's session (as a shell would exec it): the hangup's SIGHUP is its.
    const terminal = await inTerminal("exec {HAM}");
    expect(terminal.screen()).toMatch(PRETTY_START);
    const sleeper = await field(terminal.runDir, "/sleeper/.info", "Entity Pid");
    keeper.add(sleeper);
    process.kill(terminal.scriptPid, "SIGKILL");
    await gone(terminal.ham.hamPid, terminal.ham.guardianPid);
    expect(isAlive(sleeper)).toBe(true);
    expect(existsSync(stateDirOf(terminal.runDir))).toBe(true);
  });

  it("goes on supervising when it is outside the terminal's session, and SIGTERM ends it and its Guardian within a second", async () => {
    const terminal = await inTerminal(OUTSIDE);
    expect(terminal.screen()).toMatch(PRETTY_START);
    await closeTerminal(terminal);
    process.kill(terminal.ham.hamPid, "SIGTERM");
    await gone(terminal.ham.hamPid, terminal.ham.guardianPid);
    // A clean exit, not Node 20's abort on resetting a terminal that hung up.
    expect(await eventually(() => readFileSync(join(terminal.runDir, "exit-status"), "utf8"), 2_000, "the exit status")).toBe("0\n");
  });

  it("the Guardian that took over from it behaves the same: it counts the lost lines, and SIGTERM ends it and its own Guardian within a second", async () => {
    const terminal = await inTerminal(OUTSIDE);
    process.kill(terminal.ham.hamPid, "SIGKILL");
    const takenOver = await eventually(async () => {
      const now = await status(terminal.runDir).catch(() => null);
      return now !== null && now.hamPid === terminal.ham.guardianPid && now.guardianPid > 0 ? now : null;
    }, 10_000, "the Guardian to take over, with a Guardian of its own");
    await closeTerminal(terminal);
    process.kill(takenOver.hamPid, "SIGTERM");
    await gone(takenOver.hamPid, takenOver.guardianPid);
  });

  it("the background daemon ignores SIGHUP: it has no terminal to lose", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "hamd-terminal-"));
    runDirs.push(runDir);
    expect(spawnSync(HAM_BIN, ["--run-dir", runDir, "--no-mount"], { timeout: 20_000 }).status).toBe(0);
    const { hamPid, guardianPid } = await guardianReady(runDir);
    keeper.add(hamPid);
    // Signals are handled in the order sent: a SIGHUP that stopped the HAM would name the stop.
    process.kill(hamPid, "SIGHUP");
    process.kill(hamPid, "SIGTERM");
    await gone(hamPid, guardianPid);
    const stops = readFileSync(join(runDir, "ham.log"), "utf8").split("\n").filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line["event"] === "stop");
    expect(stops).toEqual([expect.objectContaining({ reason: "signal", stateKept: true })]);
  });
});
