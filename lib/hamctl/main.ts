#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { VERBOSE_GET, VERBOSE_SET, VERBOSE_SET_DECR, VERBOSE_SET_INCR } from "../constants.js";
import { HamError } from "../errors.js";
import { placeOfNode, requestAt, sessionFor } from "../client/session.js";
import { outputFilesOf, resolveRunDir } from "../run-dir.js";
import type { Node } from "../tree/node.js";
import { joinCommandLine } from "../command-line.js";
import type { GroupRow, PsRow } from "../wire/ps-row.js";
import { parseCommandLine, UsageError, type Invocation } from "./args.js";
import { commandUsage, usage } from "./commands.js";
import { showLogs } from "./logs.js";
import { startArgs, stopService } from "./services.js";
import { clusterSummary, nodesTable, type ClusterSummary } from "./nodes-table.js";
import type { NodeRow } from "../wire/node-row.js";
import { groupSummary, groupTable, psLines, psTable } from "./ps-table.js";

// `hamctl`: control and inspect a HAM. One line on stderr and a non-zero exit on error
// (2 for a usage error, with the usage).

type Run = Extract<Invocation, { kind: "run" }>;

// A usage error that is not a mistake in the command line (a flag kept for later): no usage printed.

function int(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || text === "" || !Number.isSafeInteger(value)) throw new UsageError(`${what} must be an integer`);
  return value;
}

function operand(run: Run, index: number): string {
  return run.operands[index] ?? "";
}

// What a command asks of the HAM: the local one, or through it the HAM of --node NAME.
interface Ham {
  request(op: string, args: unknown, timeoutMs?: number): Promise<unknown>;
}

async function request(run: Run, work: (ham: Ham) => Promise<string>): Promise<string> {
  if (run.node !== null && placeOfNode(run.node).node === null) throw new HamError("EINVAL", `--node takes a node name, not a path (--run-dir DIR for a HAM on this machine): ${run.node}`);
  const place = { runDir: resolveRunDir(run.runDir), node: run.node };
  const session = await sessionFor(place.runDir);
  try {
    return await work({ request: (op, args, timeoutMs) => requestAt(session, place, op, args, timeoutMs) });
  } finally {
    session.close();
  }
}

async function execute(run: Run): Promise<string> {
  const print = (value: unknown, text: string) => (run.json ? `${JSON.stringify(value)}\n` : text);
  switch (run.command.name) {
    case "stop":
      // `stop NAME` stops that entity; a bare `stop`, the HAM (as ever).
      return request(run, async (session) => {
        if (run.operands[0] === undefined) await session.request("stop", {});
        else await stopService(operand(run, 0), "stop", session.request);
        return "";
      });
    case "start": {
      const args = startArgs(run, operand(run, 0));
      return request(run, async (session) => {
        await session.request("service_start", args);
        return "";
      });
    }
    case "delete":
      return request(run, async (session) => {
        await stopService(operand(run, 0), "delete", session.request);
        return "";
      });
    case "status":
      return request(run, async (session) => {
        const status = (await session.request("status", {})) as Record<string, unknown>;
        const text = (key: string, value: unknown) => (key === "groups" && Array.isArray(value) ? (value as GroupRow[]).map(groupSummary).join(", ") || "-"
          : key === "cluster" ? clusterSummary(value as ClusterSummary | null) : String(value));
        return print(status, Object.entries(status).map(([key, value]) => `${key}: ${text(key, value)}`).join("\n") + "\n");
      });
    case "ps":
      return request(run, async (session) => {
        const lines = psLines((await session.request("ps", {})) as PsRow[]);
        if (run.json) return print(lines, "");
        const { groups } = (await session.request("status", {})) as { groups?: GroupRow[] };
        return psTable(lines) + (groups !== undefined && groups.length > 0 ? `\n${groupTable(groups)}` : "");
      });
    case "nodes":
      return request(run, async (session) => {
        const rows = (await session.request("nodes", {})) as NodeRow[];
        return print(rows, nodesTable(rows, Date.now()));
      });
    case "switchover":
      return request(run, async (session) => {
        const gname = operand(run, 0);
        // The HAM answers when the switchover is done, or abandoned (ECANCELED, with the reason).
        const done = (await session.request("group_switchover", { gname, wait: true }, SWITCHOVER_WAIT_MS)) as { from: string; to: string; ms: number };
        return print({ group: gname, from: done.from, to: done.to, ms: done.ms }, `${gname}: ${done.from} -> ${done.to} in ${done.ms} ms\n`);
      });
    case "logs":
      // The log files are this machine's: read them where the node runs.
      if (run.node !== null) throw new HamError("EINVAL", `logs reads this machine's files: run hamctl logs on node ${run.node}`);
      await logs(run);
      return "";
    case "verbose":
      return request(run, async (session) => {
        const arg = run.operands[0] ?? "=";
        if (arg === "+") await session.request("verbose", { op: VERBOSE_SET_INCR, value: 1 });
        else if (arg === "-") await session.request("verbose", { op: VERBOSE_SET_DECR, value: 1 });
        else if (arg !== "=") await session.request("verbose", { op: VERBOSE_SET, value: int(arg, "verbosity") });
        const level = await session.request("verbose", { op: VERBOSE_GET, value: 0 });
        return print({ verbosity: level }, `${level}\n`);
      });
    case "ls":
      return request(run, async (session) => {
        const path = run.operands[0] ?? "/";
        const node = (await session.request("ls", { path })) as Node | { type: "file"; size: number };
        if (node.type === "file") return print({ type: "file", path }, `${path}\n`);
        return print(node.entries, node.entries.map((entry) => `${entry.name}\n`).join(""));
      });
    case "cat":
      return request(run, async (session) => String(await session.request("cat", { path: operand(run, 0) })));
    case "attach": {
      const pid = run.flags["pid"];
      const line = run.rest;
      if ((pid === undefined) === (line === null)) throw new UsageError("attach needs --pid PID or -- CMD ARGS...", run.command);
      if (line !== null && line.length === 0) throw new UsageError("missing CMD", run.command);
      const args = line === null ? { ename: operand(run, 0), pid: int(String(pid), "PID"), flags: 0 } : { ename: operand(run, 0), pid: -1, line: joinCommandLine([...line]), flags: 0 };
      return request(run, async (session) => {
        await session.request("attach", args);
        return "";
      });
    }
    case "detach":
      return request(run, async (session) => {
        await session.request("detach", { ename: operand(run, 0), flags: 0 });
        return "";
      });
    case "restart":
      return request(run, async (session) => {
        await session.request("restart", { ename: operand(run, 0) }, 30_000);
        return "";
      });
    case "raise": {
      const [rtype, rclass, rseverity] = [int(run.operands[1], "TYPE"), int(run.operands[2], "CLASS"), int(run.operands[3], "SEVERITY")];
      return request(run, async (session) => {
        await session.request("entity_condition_raise", { ename: operand(run, 0), rtype, rclass, rseverity, flags: 0 });
        return "";
      });
    }
    case "state": {
      const tostate = int(run.operands[1], "STATE");
      return request(run, async (session) => {
        await session.request("entity_condition_state", { ename: operand(run, 0), tostate, flags: 0 });
        return "";
      });
    }
    case "apply": {
      const file = resolve(operand(run, 0));
      const text = readFileSync(file, "utf8");
      return request(run, async (session) => {
        const { warnings = [], ...result } = (await session.request("apply", { text, source: file })) as Record<string, string[]>;
        const lines = [...Object.entries(result).map(([key, names]) => `${key}: ${names.join(" ")}`), ...warnings.map((warning) => `warning: ${warning}`)];
        return print(warnings.length > 0 ? { ...result, warnings } : result, `${lines.join("\n")}\n`);
      });
    }
    default:
      throw new UsageError(`unknown command ${run.command.name}`);
  }
}

const SWITCHOVER_WAIT_MS = 30_000;

const DEFAULT_LOG_LINES = 20;

async function logs(run: Run): Promise<void> {
  const lines = run.flags["lines"] === undefined ? DEFAULT_LOG_LINES : int(String(run.flags["lines"]), "-n");
  if (lines < 0) throw new UsageError("-n must be >= 0", run.command);
  const file = typeof run.flags["file"] === "string" ? resolve(run.flags["file"]) : join(resolveRunDir(run.runDir), "ham.log");
  const stop = new AbortController();
  const end = () => stop.abort();
  process.once("SIGINT", end);
  process.once("SIGTERM", end);
  const warn = (text: string) => process.stderr.write(`hamctl: ${text}\n`);
  try {
    if (run.flags["output"] === true) {
      // The entity's own output: its stdout to ours, its stderr to ours.
      const entity = run.operands[0];
      if (entity === undefined) throw new UsageError("logs --output needs an ENTITY", run.command);
      const files = outputFilesOf(resolveRunDir(run.runDir), entity);
      const common = { lines, entity: null, follow: run.flags["follow"] === true, json: false, raw: true, color: false, warn, signal: stop.signal };
      await Promise.all([
        showLogs({ ...common, file: files.out, write: (text) => process.stdout.write(text) }),
        showLogs({ ...common, file: files.err, write: (text) => process.stderr.write(text) }),
      ]);
      return;
    }
    await showLogs({
      file, lines, entity: run.operands[0] ?? null, follow: run.flags["follow"] === true, json: run.json,
      color: process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined,
      write: (text) => process.stdout.write(text), warn, signal: stop.signal,
    });
  } finally {
    process.off("SIGINT", end);
    process.off("SIGTERM", end);
  }
}

async function main(): Promise<void> {
  // A reader that went away (`hamctl logs -f | head`) ends hamctl quietly.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 0 : 1));
  const invocation = parseCommandLine(process.argv.slice(2));
  if (invocation.kind === "help") {
    process.stdout.write(`${invocation.command === null ? usage() : commandUsage(invocation.command)}\n`);
    return;
  }
  try {
    process.stdout.write(await execute(invocation));
  } catch (error) {
    // A bad operand (an integer that is not one) shows its command's usage.
    throw error instanceof UsageError && error.command === null ? new UsageError(error.message, invocation.command) : error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`hamctl: ${error.message}\n${error.command === null ? usage() : commandUsage(error.command)}\n`);
    process.exit(2);
  }
  const message = error instanceof HamError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`hamctl: ${message.split("\n")[0]}\n`);
  process.exit(1);
});
