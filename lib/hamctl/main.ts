#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { VERBOSE_GET, VERBOSE_SET, VERBOSE_SET_DECR, VERBOSE_SET_INCR } from "../constants.js";
import { HamError } from "../errors.js";
import { sessionFor, type Session } from "../client/session.js";
import { resolveRunDir } from "../run-dir.js";
import type { Node } from "../tree/node.js";
import { joinCommandLine } from "../command-line.js";

// `hamctl`: control and inspect a HAM. One line on stderr and a non-zero exit on error.
const USAGE = `usage: hamctl [--run-dir DIR] [--json] COMMAND
  stop | status | verbose [+|-|=|N] | ls [PATH] | cat PATH
  attach NAME (--pid PID | -- CMD ARGS...) | detach NAME | restart NAME
  raise NAME TYPE CLASS SEVERITY | state NAME STATE | apply FILE`;

class Usage extends Error {}

function int(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value)) throw new Usage(`${what} must be an integer`);
  return value;
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new Usage(`missing ${what}`);
  return value;
}

async function run(session: Session, command: string, args: string[], json: boolean): Promise<string> {
  const print = (value: unknown, text: string) => (json ? `${JSON.stringify(value)}\n` : text);
  switch (command) {
    case "stop":
      await session.request("stop", {});
      return "";
    case "status": {
      const status = (await session.request("status", {})) as Record<string, unknown>;
      return print(status, Object.entries(status).map(([key, value]) => `${key}: ${value}`).join("\n") + "\n");
    }
    case "verbose": {
      const arg = args[0] ?? "=";
      if (arg === "+") await session.request("verbose", { op: VERBOSE_SET_INCR, value: 1 });
      else if (arg === "-") await session.request("verbose", { op: VERBOSE_SET_DECR, value: 1 });
      else if (arg !== "=") await session.request("verbose", { op: VERBOSE_SET, value: int(arg, "verbosity") });
      const level = await session.request("verbose", { op: VERBOSE_GET, value: 0 });
      return print({ verbosity: level }, `${level}\n`);
    }
    case "ls": {
      const path = args[0] ?? "/";
      const node = (await session.request("ls", { path })) as Node | { type: "file"; size: number };
      if (node.type === "file") return print({ type: "file", path }, `${path}\n`);
      return print(node.entries, node.entries.map((entry) => `${entry.name}\n`).join(""));
    }
    case "cat":
      return String(await session.request("cat", { path: need(args[0], "PATH") }));
    case "attach": {
      const name = need(args[0], "NAME");
      if (args[1] === "--pid") {
        await session.request("attach", { ename: name, pid: int(args[2], "PID"), flags: 0 });
      } else if (args[1] === "--") {
        await session.request("attach", { ename: name, pid: -1, line: joinCommandLine(args.slice(2).length > 0 ? args.slice(2) : [need(undefined, "CMD")]), flags: 0 });
      } else throw new Usage("attach needs --pid PID or -- CMD ARGS...");
      return "";
    }
    case "detach":
      await session.request("detach", { ename: need(args[0], "NAME"), flags: 0 });
      return "";
    case "restart":
      await session.request("restart", { ename: need(args[0], "NAME") }, 30_000);
      return "";
    case "raise":
      await session.request("entity_condition_raise", {
        ename: need(args[0], "NAME"), rtype: int(args[1], "TYPE"), rclass: int(args[2], "CLASS"), rseverity: int(args[3], "SEVERITY"), flags: 0,
      });
      return "";
    case "state":
      await session.request("entity_condition_state", { ename: need(args[0], "NAME"), tostate: int(args[1], "STATE"), flags: 0 });
      return "";
    case "apply": {
      const file = resolve(need(args[0], "FILE"));
      const result = await session.request("apply", { text: readFileSync(file, "utf8"), source: file });
      return print(result, `${Object.entries(result as Record<string, string[]>).map(([key, names]) => `${key}: ${names.join(" ")}`).join("\n")}\n`);
    }
    default:
      throw new Usage(`unknown command ${command}`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let runDir: string | null = null;
  let json = false;
  while (argv[0]?.startsWith("--") === true && argv[0] !== "--") {
    const flag = argv.shift();
    if (flag === "--json") json = true;
    else if (flag === "--run-dir") runDir = argv.shift() ?? null;
    else if (flag?.startsWith("--run-dir=") === true) runDir = flag.slice("--run-dir=".length);
    else if (flag === "--help") {
      process.stdout.write(`${USAGE}\n`);
      return;
    } else throw new Usage(`unknown option ${flag}`);
  }
  const command = argv.shift();
  if (command === undefined) throw new Usage("missing COMMAND");
  const session = await sessionFor(resolveRunDir(runDir));
  try {
    process.stdout.write(await run(session, command, argv, json));
  } finally {
    session.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof Usage) {
    process.stderr.write(`hamctl: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const message = error instanceof HamError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`hamctl: ${message.split("\n")[0]}\n`);
  process.exit(1);
});

