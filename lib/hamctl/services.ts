import { joinCommandLine } from "../command-line.js";
import { HamError } from "../errors.js";
import type { PsRow } from "../wire/ps-row.js";
import { UsageError, type Invocation } from "./args.js";

// `hamctl start`, `stop NAME` and `delete NAME` (PM2's start, stop and delete). Each is one
// request to the HAM (ham/core/services.ts), answered once even across a takeover; stop and
// delete then wait until the process is gone, as `systemctl stop` and `pm2 stop` do.

type Run = Extract<Invocation, { kind: "run" }>;
type Request = (op: string, args: unknown, timeoutMs?: number) => Promise<unknown>;

const RESTART_MODES: readonly string[] = ["always", "on-failure", "never"];

// The HAM's grace between SIGTERM and SIGKILL is 5 s: a process is gone well before this.
const STOP_WAIT_MS = 15_000;

// The service_start request's arguments; a usage error (exit 2) before the HAM is asked.
export function startArgs(run: Run, name: string): Record<string, string> {
  const restart = run.flags["restart"];
  if (typeof restart === "string" && !RESTART_MODES.includes(restart)) {
    throw new UsageError(`--restart takes always, on-failure or never, not ${JSON.stringify(restart)}`, run.command);
  }
  if (run.rest === null) {
    if (restart !== undefined) throw new UsageError("--restart goes with -- CMD ARGS... (a stopped entity keeps its conditions)", run.command);
    return { ename: name };
  }
  if (run.rest.length === 0) throw new UsageError("missing CMD", run.command);
  return { ename: name, line: joinCommandLine([...run.rest]), restart: typeof restart === "string" ? restart : "always" };
}

// `how`: stop keeps the entity (ps says stopped), delete removes it.
export async function stopService(name: string, how: "stop" | "delete", request: Request): Promise<void> {
  await request(how === "stop" ? "service_stop" : "service_delete", { ename: name });
  const deadline = Date.now() + STOP_WAIT_MS;
  for (;;) {
    const row = ((await request("ps", {})) as PsRow[]).find((item) => item.name === name);
    if (row === undefined || (how === "stop" && row.state === "stopped")) return;
    if (Date.now() > deadline) throw new HamError("ETIMEDOUT", `${name}: pid ${row.pid} has not ended after ${STOP_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
