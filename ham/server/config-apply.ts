import { basename, delimiter, dirname, join, resolve } from "node:path";
import { accessSync, constants, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { splitCommandLine } from "../../lib/command-line.js";
import { LOG_LEVEL } from "../adapters/activity-log.js";
import { readConfig } from "./config-file.js";
import type { ServerContext } from "./context.js";
import { programsToCheck } from "../core/config.js";
import { replyValue } from "../daemon/interpreter.js";
import type { ReplyTo } from "../core/events.js";

// Config files (JSON, or YAML for .yaml and .yml): read, parsed and checked whole
// (config-file.ts), every program the apply installs looked up (programsToCheck), then applied
// by the core as one transition (core/config.ts): all or nothing. The file is watched and
// applied again when it changes.

// Applies a config text (the `apply` request, answering `to`, and the watched file).
export function applyText(ham: ServerContext, text: string, source: string, to: ReplyTo | null = null): unknown {
  const { plan, fieldError } = readConfig(text, source);
  for (const { field, line } of programsToCheck(ham.state, plan, source)) {
    const problem = programProblem(line);
    if (problem !== null) throw fieldError("ENOENT", field, problem);
  }
  return replyValue(ham.applyConfig((ref, at) => ({ kind: "apply", at, ref, plan, source, replyTo: to })));
}

export class ConfigSources {
  private watcher: FSWatcher | null = null;

  constructor(private readonly ham: ServerContext) {}

  // `keepOnError`: a file that cannot be read or applied is logged and the running state kept
  // (a takeover: the HAM that takes over never fails for its config file; a HAM that failed
  // that way would be taken over by its own Guardian, which would fail again, for ever).
  load(path: string, watchIt: boolean, keepOnError = false): void {
    const source = resolve(path);
    let text = "";
    try {
      text = readFileSync(source, "utf8");
      this.apply(text, source);
    } catch (error) {
      if (!keepOnError) throw error;
      this.ham.log.write(LOG_LEVEL.events, "error", { event: "config-rejected", source }, `config rejected, running state kept: ${String(error)}`);
    }
    if (watchIt) this.watch(source, text);
  }

  apply(text: string, source: string): unknown {
    return applyText(this.ham, text, source);
  }

  // `applied`: the text applied last; an edit made before the watcher is ready is read then.
  private watch(source: string, applied: string): void {
    const name = basename(source);
    let lastText = applied;
    let timer: NodeJS.Timeout | null = null;
    const reloadNow = () => {
      timer = null;
      let text: string;
      try {
        text = readFileSync(source, "utf8");
      } catch {
        return;
      }
      if (text === lastText) return;
      lastText = text;
      try {
        this.apply(text, source);
      } catch (error) {
        this.ham.log.write(LOG_LEVEL.events, "error", { event: "config-rejected", source }, `config rejected, running state kept: ${String(error)}`);
      }
    };
    // An editor's truncate-then-write (or write-then-rename) raises several events: read on a
    // trailing edge, after the writes settle.
    const reload = (changed: string | null) => {
      if (changed !== null && changed !== name) return;
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(reloadNow, 75);
    };
    // inotify on the directory (a rename over the file is seen), and nothing else: the lab found
    // that chokidar stat'ed every entry of the directory, which may hold a FUSE mount (the /ham
    // view under the run directory); a HAM killed during that stat kept a thread waiting on its
    // own view for 10 s, and with it its channel and socket.
    try {
      this.watcher = watch(dirname(source), { persistent: false }, (_event, changed) => reload(changed));
      this.watcher.on("error", () => undefined);
    } catch (error) {
      this.ham.log.write(LOG_LEVEL.events, "warn", { event: "config-watch", source }, `cannot watch ${source}: ${String(error)}`);
      return;
    }
    this.ham.log.write(LOG_LEVEL.detail, "info", { event: "config-watch", source }, `watching ${source}`);
    reload(null);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}

// Why `line`'s program cannot be started (not found, not executable), or null.
function programProblem(line: string): string | null {
  const [program] = splitCommandLine(line);
  if (program === undefined) return "empty command line";
  const candidates = program.includes("/") ? [program] : (process.env["PATH"] ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return null;
    } catch {
      // not this one
    }
  }
  return program.includes("/") ? `${program} does not exist or is not executable` : `${program} is not on PATH`;
}
