import { basename, delimiter, dirname, join, resolve } from "node:path";
import { accessSync, constants, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { splitCommandLine } from "../lib/command-line.js";
import { HamError } from "../lib/errors.js";
import type { Condition, Entity } from "../lib/tree/types.js";
import { LOG_LEVEL } from "./activity-log.js";
import { DEFAULTS } from "./defaults.js";
import { terminate } from "./processes.js";
import { internalClient, type ClientState } from "./clients.js";
import { parseConfig, type PlannedRequest } from "./config-file.js";
import { dispatch } from "./requests.js";
import type { ConfigState } from "./persist.js";
import type { ServerContext } from "./context.js";

// Applies config files as a diff: entities whose section is unchanged are left untouched;
// changed ones get their conditions and policy replaced while their process keeps running
// (as systemd's daemon-reload); removed ones are detached (their process keeps running).

export class ConfigSources {
  // source path → entity name → fingerprint
  private readonly applied = new Map<string, Map<string, string>>();
  private readonly globalApplied = new Map<string, string[]>();
  private watcher: FSWatcher | null = null;
  private closed = false;
  private readonly internal: ClientState = internalClient();

  constructor(private readonly ham: ServerContext) {}

  // What was applied from which file, for the shared state: a HAM that takes over knows
  // which entities its config file made, and re-applies it as a diff.
  state(): ConfigState {
    return {
      applied: [...this.applied].map(([source, names]) => [source, [...names]]),
      global: [...this.globalApplied],
    };
  }

  restore(state: ConfigState): void {
    for (const [source, names] of state.applied) this.applied.set(source, new Map(names));
    for (const [source, names] of state.global) this.globalApplied.set(source, names);
  }

  load(path: string, watchIt: boolean): void {
    const source = resolve(path);
    const text = readFileSync(source, "utf8");
    this.apply(text, source);
    if (watchIt) this.watch(source, text);
  }

  // All or nothing: every program a new or changed entity starts is looked up first, and a
  // request that still fails part-way undoes what this apply did (entities it added are
  // removed and their processes ended, changed ones get their conditions, policy, command and
  // flags back), so the running state is exactly as before and the corrected file applies.
  apply(text: string, source: string): Record<string, unknown> {
    const plan = parseConfig(text);
    const previous = this.applied.get(source) ?? new Map<string, string>();
    plan.entities.forEach((entity, index) => {
      const existing = this.ham.tree.entities.get(entity.name);
      if (existing !== undefined && !previous.has(entity.name)) {
        throw new HamError("EEXIST", `entity ${entity.name} exists and was not created by ${source}`);
      }
      const line = entity.create.args["line"];
      if (typeof line === "string" && previous.get(entity.name) !== entity.fingerprint) {
        const problem = programProblem(line);
        if (problem !== null) throw new HamError("ENOENT", `entities[${index}].command: ${problem}`);
      }
    });
    const undo = new Undo(this.ham);
    const result = { added: [] as string[], changed: [] as string[], removed: [] as string[], unchanged: [] as string[] };
    const next = new Map<string, string>();
    try {
      for (const entity of plan.entities) {
        next.set(entity.name, entity.fingerprint);
        const existing = this.ham.tree.entities.get(entity.name);
        if (existing !== undefined && previous.get(entity.name) === entity.fingerprint) {
          result.unchanged.push(entity.name);
          continue;
        }
        if (existing === undefined) {
          undo.added(entity.name);
          this.run(entity.create);
          result.added.push(entity.name);
        } else {
          undo.changed(existing);
          existing.conditions.clear();
          // Like `systemctl daemon-reload`: the new command is used from the next restart on.
          const line = entity.create.args["line"];
          if (typeof line === "string" && existing.kind === "attached") existing.command = line;
          existing.flags = Number(entity.create.args["flags"] ?? existing.flags);
          result.changed.push(entity.name);
        }
        for (const request of entity.setup) this.run(request);
      }
      undo.global(this.ham.tree.global);
      this.replaceGlobal(source, plan.global);
    } catch (error) {
      undo.rollBack();
      this.ham.changedAll();
      throw error;
    }
    // Committed: firings already queued skip the actions this apply replaced.
    undo.commit();
    for (const name of previous.keys()) {
      if (next.has(name)) continue;
      const entity = this.ham.tree.entities.get(name);
      if (entity !== undefined) this.run({ op: "detach", args: { ename: name } }, true);
      result.removed.push(name);
    }
    this.applied.set(source, next);
    this.ham.changedAll();
    this.ham.log.write(LOG_LEVEL.events, "info", { event: "config", source, ...result }, `config applied from ${source}`);
    return result;
  }

  private replaceGlobal(source: string, requests: readonly PlannedRequest[]): void {
    for (const name of this.globalApplied.get(source) ?? []) this.ham.tree.global.conditions.delete(name);
    const names: string[] = [];
    for (const request of requests) {
      if (request.op.startsWith("condition")) names.push(String(request.args["cname"]));
      this.run(request);
    }
    this.globalApplied.set(source, names);
  }

  private run(request: PlannedRequest, tolerate = false): void {
    try {
      const result = dispatch(this.ham, this.internal, request.op, request.args);
      if (result instanceof Promise) result.catch(() => undefined);
    } catch (error) {
      if (!tolerate) throw error;
    }
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
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
  }
}

// What an apply changed, to undo it if a later request fails.
class Undo {
  private readonly addedNames: string[] = [];
  private readonly before = new Map<Entity, { conditions: Array<[string, Condition]> } & Pick<Entity, "policy" | "command" | "flags">>();
  private globalConditions: Array<[string, Condition]> | null = null;

  constructor(private readonly ham: ServerContext) {}

  added(name: string): void {
    this.addedNames.push(name);
  }

  changed(entity: Entity): void {
    this.before.set(entity, { conditions: [...entity.conditions], policy: entity.policy, command: entity.command, flags: entity.flags });
  }

  global(entity: Entity): void {
    this.globalConditions = [...entity.conditions];
  }

  rollBack(): void {
    for (const name of this.addedNames.reverse()) {
      const entity = this.ham.tree.entities.get(name);
      if (entity === undefined) continue;
      const { pid, startTime } = entity;
      this.ham.monitor.unwatch(entity);
      this.ham.tree.remove(entity);
      if (pid > 0) void terminate(pid, startTime, DEFAULTS.killGraceMs);
    }
    for (const [entity, { conditions, ...fields }] of this.before) {
      Object.assign(entity, fields);
      refill(entity.conditions, conditions);
    }
    if (this.globalConditions !== null) refill(this.ham.tree.global.conditions, this.globalConditions);
  }

  commit(): void {
    for (const { conditions } of this.before.values()) {
      for (const [, condition] of conditions) for (const action of condition.actions.values()) action.removed = true;
    }
  }
}

function refill(map: Map<string, Condition>, entries: Array<[string, Condition]>): void {
  map.clear();
  for (const [name, condition] of entries) map.set(name, condition);
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
