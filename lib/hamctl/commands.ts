// hamctl's commands and flags: one table for the parser (args.ts), the usage and `help COMMAND`.

export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

export interface CommandSpec {
  readonly name: string;
  // Operands in order; "?" ends an optional one.
  readonly operands: readonly string[];
  readonly synopsis: string;
  readonly summary: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  // Takes `-- CMD ARGS...` (attach): what follows `--` is the command's, never hamctl's.
  readonly passThrough?: true;
}

// Accepted before or after the command.
export const GLOBAL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  "run-dir": { type: "string" },
  // Another node of the local HAM's cluster: the command goes to that node's HAM.
  node: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const command = (name: string, operands: readonly string[], synopsis: string, summary: string, flags: Record<string, FlagSpec> = {}): CommandSpec =>
  ({ name, operands, synopsis, summary, flags });

export const COMMANDS: readonly CommandSpec[] = [
  command("status", [], "status", "the HAM's pids, failures, counts, verbosity and memory"),
  command("ps", [], "ps", "one row per entity: pid, state, role, uptime, restarts, deaths, last exit, CPU, RSS; then the groups"),
  command("nodes", [], "nodes", "the cluster's nodes as this HAM sees them: name, pid, up|down (self: expiring), lease left, since, the cross-node group members each hosts"),
  command("switchover", ["GROUP"], "switchover GROUP", "hand a 2N group's active role to its standby gracefully (a cluster group: to another node's member), and wait until done"),
  command("logs", ["ENTITY?"], "logs [-f] [-n N] [--file FILE] [--output] [ENTITY]",
    "the activity log's last N lines (20), ENTITY's only; --output: ENTITY's own stdout and stderr; -f follows", {
      follow: { type: "boolean", short: "f" }, lines: { type: "string", short: "n" }, file: { type: "string" }, output: { type: "boolean" },
    }),
  command("ls", ["PATH?"], "ls [PATH]", "list a directory of the /ham tree (default /)"),
  command("cat", ["PATH"], "cat PATH", "print a file of the /ham tree"),
  { ...command("attach", ["NAME"], "attach NAME (--pid PID | -- CMD ARGS...)", "watch a running process, or start CMD and watch it",
    { pid: { type: "string" } }), passThrough: true },
  { ...command("start", ["NAME"], "start NAME [--restart MODE] [-- CMD ARGS...]",
    "start CMD as entity NAME, restarted when it dies: MODE always (default), on-failure (not after exit 0) or never; without CMD: start a stopped NAME again",
    { restart: { type: "string" } }), passThrough: true },
  command("delete", ["NAME"], "delete NAME", "stop NAME's process (not restarted) and remove the entity"),
  command("detach", ["NAME"], "detach NAME", "stop watching an entity (its process keeps running)"),
  command("restart", ["NAME"], "restart NAME", "kill its process (SIGTERM, SIGKILL after 5 s), its restart action runs"),
  command("raise", ["NAME", "TYPE", "CLASS", "SEVERITY"], "raise NAME TYPE CLASS SEVERITY", "report a condition (ham_entity_condition_raise)"),
  command("state", ["NAME", "STATE"], "state NAME STATE", "report a state change (ham_entity_condition_state)"),
  command("apply", ["FILE"], "apply FILE", "apply a config file: add, change and remove entities as a diff"),
  command("verbose", ["LEVEL?"], "verbose [+|-|=|N]", "raise, lower, show or set the HAM's verbosity"),
  command("stop", ["NAME?"], "stop [NAME]",
    "NAME: end its process (SIGTERM, SIGKILL after 5 s) and keep it, stopped, until `start NAME`; no NAME: stop the HAM and its Guardian (the processes keep running)"),
  command("help", ["COMMAND?"], "help [COMMAND]", "this text, or one command's"),
];

const GLOBAL_SYNOPSIS = "hamctl [--run-dir DIR] [--node NAME] [--json]";

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((spec) => spec.name === name);
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((spec) => spec.synopsis.length));
  return [
    `usage: ${GLOBAL_SYNOPSIS} COMMAND [ARGS]`,
    ...COMMANDS.map((spec) => `  ${spec.synopsis.padEnd(width)}  ${spec.summary}`),
    "--run-dir, --node, --json and --help go before or after COMMAND; --node NAME sends it to node NAME's HAM through the local one; `hamctl help COMMAND` for one command.",
  ].join("\n");
}

export function commandUsage(spec: CommandSpec): string {
  return `usage: ${GLOBAL_SYNOPSIS} ${spec.synopsis}\n  ${spec.summary}`;
}
