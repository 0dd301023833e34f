import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { HamError } from "../../lib/errors.js";

// A config file's text read into a value, JSON or YAML by the file's extension, and the line of
// any error: a syntax error where it is, a field (`entities[0].conditions[1].actions[0].delay`)
// where its key is. The `yaml` package reads YAML, and JSON too when a line must be found.

export type ConfigFormat = "json" | "yaml";

export interface ConfigText {
  readonly value: unknown;
  // The line of a field path, or of the deepest part of it the file has; null if none.
  lineOf(field: string): number | null;
}

// Loaded at the first YAML file or JSON error: loading it took 45-100 ms and ~8 MB of RSS, which
// a HAM with a JSON file, or none, does not pay (nor a Guardian taking over).
let yamlModule: typeof Yaml | null = null;
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof Yaml;
  return yamlModule;
}

// `yaml` parses ~100 times slower than JSON.parse (a 2.4 MB file: 583 ms, JSON.parse 6 ms), on
// the HAM's loop: a larger JSON file's errors name the field without the line.
const LOCATE_JSON_MAX_CHARS = 256 * 1024;

export function formatOf(source: string): ConfigFormat {
  return /\.ya?ml$/i.test(source) ? "yaml" : "json";
}

function lineAt(text: string, offset: number | undefined): number | null {
  return offset === undefined ? null : text.slice(0, offset).split("\n").length;
}

function syntaxError(format: ConfigFormat, line: number | null, message: string): HamError {
  return new HamError("EINVAL", `invalid ${format === "json" ? "JSON" : "YAML"}: ${line === null ? "" : `line ${line}: `}${message}`);
}

function parseDocument(text: string, format: ConfigFormat): Yaml.Document.Parsed {
  // YAML's JSON schema: a plain scalar (`oops`, `01`, `.5`) is an error, not a string.
  return yaml().parseDocument(text, { schema: format === "json" ? "json" : "core", prettyErrors: false, uniqueKeys: true });
}

export function readConfigText(text: string, format: ConfigFormat): ConfigText {
  return format === "json" ? readJson(text) : readYaml(text);
}

// YAML 1.2, one document; a key given twice is an error.
function readYaml(text: string): ConfigText {
  const doc = parseDocument(text, "yaml");
  const [error] = doc.errors;
  if (error !== undefined) {
    throw syntaxError("yaml", lineAt(text, error.pos[0]), error.code === "MULTIPLE_DOCS" ? "a config file is one document (a second --- starts here)" : error.message);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (aliasError) {
    // An alias expanded past `maxAliasCount` (100): a file built to exhaust memory.
    throw syntaxError("yaml", null, (aliasError as Error).message);
  }
  return { value, lineOf: (field) => lineAt(text, fieldOffset(doc.contents, field)) };
}

// JSON.parse, as before (YAML would also take trailing commas, comments, single quotes; a key
// given twice keeps the last); `yaml` only places an error. Node 20 gives some JSON.parse
// errors no position: then YAML's error, or the first thing YAML allows and JSON does not.
function readJson(text: string): ConfigText {
  const locatable = text.length <= LOCATE_JSON_MAX_CHARS;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (parseError) {
    const message = (parseError as Error).message.replace(/, .*is not valid JSON$/s, "");
    const position = /^(.*) in JSON at position (\d+)/s.exec(message);
    let offset = position === null ? undefined : Number(position[2]);
    if (offset === undefined && locatable) offset = parseDocument(text, "json").errors[0]?.pos[0] ?? firstNonJson(text);
    throw syntaxError("json", lineAt(text, offset), position?.[1] ?? message);
  }
  let doc: Yaml.Document.Parsed | null = null;
  return { value, lineOf: (field) => {
    if (!locatable) return null;
    doc ??= parseDocument(text, "json");
    return lineAt(text, fieldOffset(doc.contents, field));
  } };
}

// `entities[0].conditions[1].name` → the offset of that key, else of the deepest node on the way;
// `config` is the whole file (schema.ts names it so).
function fieldOffset(root: Yaml.Node | null, field: string): number | undefined {
  const { isMap, isScalar, isSeq } = yaml();
  let node: unknown = root;
  let offset = field === "config" ? root?.range?.[0] : undefined;
  for (const part of field.match(/[^.[\]]+/g) ?? []) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === part);
      if (pair === undefined) break;
      offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(part)) {
      node = node.items[Number(part)];
      if (node === undefined) break;
      offset = (node as Yaml.Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

// The first thing YAML allows that JSON does not: its CST's tokens in the order of the text.
const NOT_JSON = new Set(["comment", "single-quoted-scalar", "block-scalar", "block-map", "block-seq", "anchor", "tag", "alias", "directive", "doc-start", "doc-end"]);

function firstNonJson(text: string): number | undefined {
  const tokens: Array<{ type: string; offset: number }> = [];
  const collect = (token: unknown): void => {
    if (typeof token !== "object" || token === null) return;
    const { type, offset } = token as { type?: unknown; offset?: unknown };
    if (typeof type === "string" && typeof offset === "number") tokens.push({ type, offset });
    for (const inner of Object.values(token)) collect(inner);
  };
  for (const token of new (yaml().Parser)().parse(text)) collect(token);
  tokens.sort((a, b) => a.offset - b.offset);
  const meaningful = tokens.filter((token) => token.type !== "space" && token.type !== "newline");
  // A trailing comma: JSON.parse names what follows it.
  const at = meaningful.findIndex((token, index) => NOT_JSON.has(token.type) ||
    (["flow-seq-end", "flow-map-end", "comma"].includes(token.type) && meaningful[index - 1]?.type === "comma"));
  return meaningful[at]?.offset;
}
