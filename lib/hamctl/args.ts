import { parseArgs } from "node:util";
import { COMMANDS, commandNamed, GLOBAL_FLAGS, type CommandSpec, type FlagSpec } from "./commands.js";

// hamctl's argv → what to do. Global flags go anywhere; every other flag belongs to the
// command; anything else that looks like a flag is an error naming it. What follows `--` is
// operands (the command line of `attach NAME -- CMD ARGS...`), never flags.

export class UsageError extends Error {
  constructor(message: string, readonly command: CommandSpec | null = null) {
    super(message);
  }
}

export type Invocation =
  | { readonly kind: "help"; readonly command: CommandSpec | null }
  | {
    readonly kind: "run";
    readonly command: CommandSpec;
    readonly runDir: string | null;
    // --node NAME: the node whose HAM the command goes to (through the local HAM); null: the local one.
    readonly node: string | null;
    readonly json: boolean;
    readonly flags: Readonly<Record<string, string | boolean>>;
    readonly operands: readonly string[];
    // After `--`, for a command that passes it through (attach); null without `--`.
    readonly rest: readonly string[] | null;
  };

// Flags that take a value, in every spelling (--run-dir, -n, ...): the word after one is not the command.
const VALUE_FLAGS: ReadonlySet<string> = new Set(
  [GLOBAL_FLAGS, ...COMMANDS.map((spec) => spec.flags)].flatMap((flags) =>
    Object.entries(flags).filter(([, flag]) => flag.type === "string").flatMap(([name, flag]) => [`--${name}`, ...(flag.short === undefined ? [] : [`-${flag.short}`])])),
);

export function parseCommandLine(argv: readonly string[]): Invocation {
  const end = argv.indexOf("--");
  const head = end < 0 ? [...argv] : argv.slice(0, end);
  const rest = end < 0 ? null : argv.slice(end + 1);
  const at = commandIndex(head);
  const name = at < 0 ? undefined : head[at];
  const spec = name === undefined ? undefined : commandNamed(name);
  if (name !== undefined && spec === undefined) throw new UsageError(`unknown command ${name}`);
  const words = at < 0 ? head : [...head.slice(0, at), ...head.slice(at + 1)];
  const flags = { ...GLOBAL_FLAGS, ...spec?.flags };
  const { values, positionals } = checkedParse(words, flags, spec ?? null);
  if (values["help"] === true) return { kind: "help", command: spec ?? null };
  if (spec === undefined) throw new UsageError("missing COMMAND");
  if (spec.name === "help") {
    const topic = positionals[0];
    const about = topic === undefined ? null : commandNamed(topic);
    if (about === undefined) throw new UsageError(`unknown command ${topic}`);
    return { kind: "help", command: about };
  }
  const operands = spec.passThrough === true || rest === null ? positionals : [...positionals, ...rest];
  checkOperands(spec, operands);
  const runDir = values["run-dir"];
  const node = values["node"];
  return {
    kind: "run", command: spec, runDir: typeof runDir === "string" ? runDir : null, node: typeof node === "string" ? node : null, json: values["json"] === true, flags: values,
    operands, rest: spec.passThrough === true ? rest : null,
  };
}

// The first word that is neither a flag nor a flag's value.
function commandIndex(words: readonly string[]): number {
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] ?? "";
    if (VALUE_FLAGS.has(word)) i += 1;
    else if (!word.startsWith("-") || word === "-") return i;
  }
  return -1;
}

function checkedParse(words: string[], flags: Readonly<Record<string, FlagSpec>>, spec: CommandSpec | null): {
  values: Record<string, string | boolean>; positionals: string[];
} {
  // Not strict: parseArgs' own errors are paragraphs; these are one line each.
  const { values, positionals, tokens } = parseArgs({ args: words, options: flags, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const flag = flags[token.name];
    if (flag === undefined || !Object.hasOwn(flags, token.name)) throw new UsageError(`unknown option ${token.rawName}`, spec);
    if (flag.type === "string" && token.value === undefined) throw new UsageError(`option ${token.rawName} needs a value`, spec);
    if (flag.type === "boolean" && token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`, spec);
  }
  return { values: values as Record<string, string | boolean>, positionals };
}

function checkOperands(spec: CommandSpec, operands: readonly string[]): void {
  spec.operands.forEach((operand, index) => {
    if (!operand.endsWith("?") && (operands[index] === undefined || operands[index] === "")) throw new UsageError(`missing ${operand}`, spec);
  });
  const extra = operands[spec.operands.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument ${extra}`, spec);
}
