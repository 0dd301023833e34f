import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { delimiter, join } from "node:path";
import { distFile } from "../adapters/dist-files.js";
import { joinCommandLine } from "../../lib/command-line.js";
import { CONDDEATH, HREARMAFTERRESTART } from "../../lib/constants.js";
import { LOG_LEVEL } from "../adapters/activity-log.js";
import { internalClient } from "../server/clients.js";
import type { ServerContext } from "../server/context.js";
import { isSameProcessAlive } from "../adapters/processes.js";
import { replyValue } from "./interpreter.js";

// The /ham view: its own process (fs/main.js), attached as the entity "hamfs" with a death
// condition that restarts it, so the HAM supervises it like any other; a Guardian that takes
// over adopts it with the rest.
export const FS_ENTITY = "hamfs";
// Seen from dist/ham/daemon/ or from the Guardian's bundle in dist/guardian/.
const FS_SCRIPT = distFile(import.meta.url, ["../../fs/main.js", "../fs/main.js"]);
const LIB_DIRS = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"];

// Why there can be no FUSE mount here, or null. HAMD_FUSE_DEVICE names another device node
// (tests use it to play a machine without FUSE; nothing else should set it).
export function fuseProblem(): string | null {
  const device = process.env["HAMD_FUSE_DEVICE"] ?? "/dev/fuse";
  if (!existsSync(device)) return `${device} does not exist (load the fuse module, or give the container the device)`;
  try {
    closeSync(openSync(device, "r+"));
  } catch (error) {
    return `${device} cannot be opened (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  const arch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const dirs = LIB_DIRS.flatMap((dir) => [dir, join(dir, arch)]);
  if (!dirs.some((dir) => existsSync(join(dir, "libfuse.so.2")))) return "libfuse2 is not installed (apt-get install libfuse2)";
  const path = (process.env["PATH"] ?? "").split(delimiter);
  if (!path.some((dir) => existsSync(join(dir, "fusermount")))) return "fusermount is not installed (apt-get install fuse3)";
  return null;
}

export function startMount(ham: ServerContext, mount: string): void {
  const problem = fuseProblem();
  if (problem !== null) {
    ham.log.write(LOG_LEVEL.events, "warn", { event: "no-mount", mount, reason: problem },
      `no /ham view at ${mount}: ${problem}; hamctl ls and cat still work (install libfuse2 and fuse3, or start ham with --no-mount)`);
    return;
  }
  if (ham.state.entities.has(FS_ENTITY)) return; // recovered from the state: adopted or restarted there
  try {
    mkdirSync(mount, { recursive: true, mode: 0o700 });
  } catch (error) {
    // A mount point left stale by a crashed server (ENOTCONN) is cleared by hamfs itself.
    if ((error as NodeJS.ErrnoException).code !== "ENOTCONN") {
      ham.log.write(LOG_LEVEL.events, "warn", { event: "no-mount", mount }, `no /ham view at ${mount}: ${String(error)}`);
      return;
    }
  }
  const groupArgs = ham.options.gid === null ? [] : [String(ham.options.gid)];
  const line = joinCommandLine([process.execPath, FS_SCRIPT, ham.options.runDir, mount, ...groupArgs]);
  const internal = internalClient();
  const run = (op: string, args: Record<string, unknown>) => replyValue(ham.coreRequest(internal, op, args, null));
  run("attach", { ename: FS_ENTITY, pid: -1, line, flags: 0 });
  run("condition", { ename: FS_ENTITY, cname: "death", type: CONDDEATH, flags: HREARMAFTERRESTART });
  run("action", { ename: FS_ENTITY, cname: "death", aname: "restart", kind: "restart", line, flags: HREARMAFTERRESTART });
  ham.log.write(LOG_LEVEL.events, "info", { event: "mount", mount }, `/ham view served at ${mount} by the entity ${FS_ENTITY}`);
}

// Stopping: the view goes with the HAM (it unmounts on SIGTERM).
export function stopMount(ham: ServerContext): void {
  const run = ham.state.entities.get(FS_ENTITY)?.run;
  if (run !== undefined && run.pid > 0 && isSameProcessAlive(run.pid, run.startTime)) {
    try {
      process.kill(run.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
