#!/usr/bin/env node
// The seed's scenario end to end: a HAM supervises the file server with a multistage
// recovery (restart it, wait for its file to reappear, log); a client reads the file with
// ha_open/ha_dup; halfway through, the server is SIGKILLed. The client must end with exactly
// the file's bytes. Usage: node examples/nfs-recovery/run.mjs [DIR] (DIR: an empty directory
// to work in, removed at the end; by default a new one under the temporary directory).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "../..");
const SIZE = 4_000_000;
const base = process.argv[2] ?? mkdtempSync(join(tmpdir(), "hamd-nfs-"));
const runDir = join(base, "run");
const mount = join(base, "mnt");
mkdirSync(mount, { recursive: true });
process.env.HAM_RUN_DIR = runDir;
const ham = await import(join(root, "dist/lib/index.js"));
const { socketAnswers } = await import(join(root, "dist/lib/wire/probe.js"));
const { stateDirOf } = await import(join(root, "dist/lib/run-dir.js"));
const { pidsWithEnv } = await import(join(root, "dist/lib/proc.js"));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Polls `check` until it holds; a step that never comes ends the run instead of hanging it.
async function until(check, ms, what) {
  for (const deadline = Date.now() + ms; !(await check()); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`nfs-recovery: no ${what} after ${ms} ms`);
  }
}
const exited = (child) => child.exitCode !== null || child.signalCode !== null;
const mountsUnder = (dir) => readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")[1] ?? "").filter((point) => point.startsWith(`${dir}/`));
// Every process the HAM started carries HAM_RUN_DIR=runDir (and so does its fusermount helper).
const pidsOfRun = () => pidsWithEnv(`HAM_RUN_DIR=${runDir}`);

const daemon = spawn(join(root, "dist/ham/main.js"), ["--foreground", "--no-mount", "--run-dir", runDir, "-v"], { stdio: ["ignore", "ignore", "inherit"] });
let status = 1;
try {
  // The socket file exists from bind(); a HAM descheduled before listen() still refuses.
  await until(() => exited(daemon) || socketAnswers(join(runDir, "ham.sock")), 10_000, "HAM answering");
  if (exited(daemon)) throw new Error("nfs-recovery: the HAM exited at start");
  await ham.ham_connect(0);
  const line = `${process.execPath} ${join(here, "server.cjs")} ${mount} ${SIZE}`;
  const nfs = await ham.ham_attach("nfs", 0, -1, line, 0);
  await ham.ham_entity_policy(nfs, { minUptimeMs: 0 });
  const death = await ham.ham_condition(nfs, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
  await ham.ham_action_restart(death, "restart", line, ham.HREARMAFTERRESTART);
  await ham.ham_action_waitfor(death, "mounted", join(mount, "data"), 5_000, ham.HREARMAFTERRESTART);
  await ham.ham_action_log(death, "note", "nfs server restarted and mounted", 1, 1, ham.HREARMAFTERRESTART);
  await until(() => existsSync(join(mount, "data")), 10_000, "file served");

  const client = spawn(process.execPath, [join(here, "client.mjs"), mount, String(SIZE)], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  client.stdout.on("data", (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
  const clientExit = new Promise((resolve) => client.once("exit", resolve));
  await until(() => output.includes("reading") || exited(client), 10_000, "client reading");
  await sleep(100); // well into the reading
  const { Session } = await import(join(root, "dist/lib/client/session.js"));
  const session = await Session.open(runDir);
  const pid = Number(/Entity Pid *: (\d+)/.exec(String(await session.request("cat", { path: "/nfs/.info" })))?.[1]);
  session.close();
  process.stdout.write(`killing the nfs server (pid ${pid})\n`);
  process.kill(pid, "SIGKILL");
  status = Number(await clientExit);
  if (!output.includes("all in order")) status = 1;
} finally {
  await ham.ham_stop().catch(() => undefined);
  // SIGTERM, not SIGKILL: a killed HAM's Guardian would take over; a stopped one stops it too.
  await until(() => exited(daemon), 5_000, "HAM exit").catch(() => daemon.kill("SIGTERM"));
  // The HAM leaves its processes running (QNX): end the server it restarted (and the client,
  // if the run broke off).
  for (const pid of pidsOfRun()) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone since the listing
    }
  }
  // The server's fusermount helper unmounts once the server is gone; if it does not, we do.
  await until(() => mountsUnder(base).length === 0, 3_000, "unmount").catch(() => {
    for (const point of mountsUnder(base)) spawnSync("fusermount", ["-u", "-z", point]);
  });
  rmSync(base, { recursive: true, force: true });
  // What a HAM stopped by SIGTERM keeps in /dev/shm; ham_stop removed it already.
  rmSync(stateDirOf(runDir), { recursive: true, force: true });
}
process.exit(status);
