#!/usr/bin/env node
// The seed's scenario end to end: a HAM supervises the file server with a multistage
// recovery (restart it, wait for its file to reappear, log); a client reads the file with
// ha_open/ha_dup; halfway through, the server is SIGKILLed. The client must end with exactly
// the file's bytes. Usage: node examples/nfs-recovery/run.mjs
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "../..");
const SIZE = 4_000_000;
const base = mkdtempSync(join(tmpdir(), "hamd-nfs-"));
const runDir = join(base, "run");
const mount = join(base, "mnt");
mkdirSync(mount);
process.env.HAM_RUN_DIR = runDir;
const ham = await import(join(root, "dist/lib/index.js"));

const daemon = spawn(join(root, "dist/ham/main.js"), ["--foreground", "--no-mount", "--run-dir", runDir, "-v"], { stdio: ["ignore", "ignore", "inherit"] });
while (!existsSync(join(runDir, "ham.sock"))) await new Promise((resolve) => setTimeout(resolve, 20));
let status = 1;
try {
  await ham.ham_connect(0);
  const line = `${process.execPath} ${join(here, "server.cjs")} ${mount} ${SIZE}`;
  const nfs = await ham.ham_attach("nfs", 0, -1, line, 0);
  await ham.ham_entity_policy(nfs, { minUptimeMs: 0 });
  const death = await ham.ham_condition(nfs, ham.CONDDEATH, "death", ham.HREARMAFTERRESTART);
  await ham.ham_action_restart(death, "restart", line, ham.HREARMAFTERRESTART);
  await ham.ham_action_waitfor(death, "mounted", join(mount, "data"), 5_000, ham.HREARMAFTERRESTART);
  await ham.ham_action_log(death, "note", "nfs server restarted and mounted", 1, 1, ham.HREARMAFTERRESTART);
  while (!existsSync(join(mount, "data"))) await new Promise((resolve) => setTimeout(resolve, 20));

  const client = spawn(process.execPath, [join(here, "client.mjs"), mount, String(SIZE)], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  client.stdout.on("data", (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
  const exited = new Promise((resolve) => client.on("exit", resolve));
  while (!output.includes("reading")) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100)); // well into the reading
  const { Session } = await import(join(root, "dist/lib/client/session.js"));
  const session = await Session.open(runDir);
  const pid = Number(/Entity Pid *: (\d+)/.exec(String(await session.request("cat", { path: "/nfs/.info" })))?.[1]);
  session.close();
  process.stdout.write(`killing the nfs server (pid ${pid})\n`);
  process.kill(pid, "SIGKILL");
  status = Number(await exited);
  if (!output.includes("all in order")) status = 1;
} finally {
  await ham.ham_stop().catch(() => undefined);
  await new Promise((resolve) => daemon.once("exit", resolve));
  // The HAM leaves its processes running (QNX): end the server it restarted.
  const { readdirSync, readFileSync } = await import("node:fs");
  for (const name of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(`HAM_RUN_DIR=${runDir}`)) process.kill(Number(name), "SIGTERM");
    } catch {
      // gone
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  rmSync(base, { recursive: true, force: true });
}
process.exit(status);
