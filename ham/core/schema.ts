import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AnySchemaObject, ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import type { RestartPolicyOptions } from "../../lib/client/entities.js";
import * as generated from "./schema-validators.js";
import { HamError } from "../../lib/errors.js";

// The one validator of tree specs: schema/ham-config.schema.json, the file editors use for
// config files, checks the config file whole and, through its $defs, each action,
// fail-action and policy the API sends. Code after it trusts the shapes below and keeps
// only what a schema cannot say (QNX names, signal names, duplicates, command lines).

// What a config file is once checkConfigShape passed (names of QNX constants still unresolved).
export type ConfigConstant = number | string;
export type ConfigFlags = ConfigConstant | readonly ConfigConstant[];
export type ConfigActionFields = Readonly<Record<string, unknown>> & { readonly kind: string };
export type ConfigFailAction = ConfigActionFields & { readonly name: string };
export type ConfigAction = ConfigActionFields & {
  readonly name: string; readonly flags?: ConfigFlags; readonly fail?: readonly ConfigFailAction[];
};
export interface ConfigCondition {
  readonly name: string;
  readonly type: ConfigConstant;
  readonly flags?: ConfigFlags;
  readonly fromstate?: number; readonly tostate?: number;
  readonly rtype?: number; readonly rclass?: number; readonly rseverity?: number;
  readonly failureOnly?: boolean;
  readonly actions?: readonly ConfigAction[];
}
export interface ConfigEntity {
  readonly name: string;
  readonly command?: string;
  readonly pid?: number;
  readonly placeholder?: boolean;
  readonly flags?: ConfigFlags;
  readonly policy?: unknown;
  readonly restart?: "always" | "on-failure" | "never";
  readonly probes?: readonly unknown[];
  readonly conditions?: readonly ConfigCondition[];
  // Readiness and start order (core/readiness.ts).
  readonly readiness?: "start" | "notify";
  readonly notifyFd?: number;
  readonly requires?: readonly string[];
}
export interface ConfigGroup {
  readonly name: string;
  readonly model: string;
  readonly members: readonly string[];
  readonly ackTimeoutMs?: number;
  readonly faults?: Record<string, string> | null;
}

export interface ConfigFile {
  readonly $schema?: string;
  readonly entities?: readonly ConfigEntity[];
  readonly groups?: readonly ConfigGroup[];
  readonly global?: { readonly conditions?: readonly ConfigCondition[] };
  readonly nodes?: ReadonlyArray<{ readonly name: string; readonly conditions?: readonly ConfigCondition[] }>;
  // Read by `ham` at its start (daemon/cluster-options.ts); an apply ignores it.
  readonly cluster?: ConfigCluster;
  // Read by `ham` at its start (daemon/metrics-options.ts); an apply ignores it.
  readonly metrics?: string;
}

export interface ConfigCluster {
  readonly name?: string;
  readonly node: string;
  readonly etcd: readonly string[];
  readonly leaseTtl?: number;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly user?: string;
}

// An action's own fields as the schema allows them, per kind.
export type ActionFields =
  | { kind: "restart"; line?: string }
  | { kind: "execute"; line: string }
  | { kind: "waitfor"; delay: number; path?: string | null }
  | { kind: "pulse"; nd?: 0; pid: number; chid: number; code?: number; value?: number }
  | { kind: "signal"; nd?: 0; pid: number; signal: number | string; code?: number; value?: number }
  | { kind: "healthy" }
  | { kind: "log"; message: string; prefix?: boolean | number; verbosity?: number };
export type FailActionFields = Exclude<ActionFields, { kind: "restart" } | { kind: "healthy" }>;

// A probe as the schema allows it (ham_entity_probe and `probes:` send the same); unset fields
// take their defaults (probe-spec.ts).
export type ProbeFields = {
  readonly name?: string; readonly use?: "liveness" | "readiness"; readonly intervalMs?: number; readonly timeoutMs?: number;
  readonly startGraceMs?: number; readonly failureThreshold?: number; readonly successThreshold?: number;
} & (
  | { readonly kind: "exec"; readonly command: string }
  | { readonly kind: "http"; readonly url: string; readonly bodyContains?: string; readonly bodyMatches?: string }
  | { readonly kind: "tcp"; readonly host?: string; readonly port: number }
);

// A policy as the API's ham_entity_policy takes it (the same fields, all optional).
export type PolicyFields = RestartPolicyOptions;

// From dist/ham/core/schema.js the file is ../../../schema/, from the source ham/core/schema.ts
// (a test or tool running the TypeScript directly) it is ../../schema/: tsc does not copy it.
const SCHEMA_FILE = ["../../../schema/ham-config.schema.json", "../../schema/ham-config.schema.json"]
  .map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
  .find((path) => existsSync(path));
if (SCHEMA_FILE === undefined) throw new Error("schema/ham-config.schema.json not found beside ham/");

const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as AnySchemaObject & { $id: string };
// The validators, compiled from the schema at build time (schema/compile.mjs, ajv's standalone
// code): plain functions, nothing compiled when the HAM starts or takes over.
const validators = (): typeof generated => generated;

// The kinds of a discriminated union: its branches are `{ "$ref": "#/$defs/<name>" }`, each
// with `kind: { const: <kind> }` (the name is the kind for actions, not for probes).
function kindsOf(union: AnySchemaObject): string[] {
  const refs = (union["oneOf"] ?? []) as { $ref: string }[];
  const defs = (schema["$defs"] ?? {}) as Record<string, AnySchemaObject>;
  return refs.map((ref) => {
    const name = ref.$ref.split("/").at(-1) ?? "";
    const kind = (defs[name]?.["properties"] as Record<string, { const?: unknown }> | undefined)?.["kind"]?.const;
    return typeof kind === "string" ? kind : name;
  });
}

// Each action kind's own field names, read from the schema: the API picks these out of a
// request (which also carries ename, cname, aname, flags...).
const definitions = schema["$defs"] as Record<string, AnySchemaObject>;
const kindFields = new Map<string, readonly string[]>(
  kindsOf(definitions["actionSpec"] ?? {}).map((kind) => [kind, Object.keys(definitions[kind]?.["properties"] ?? {})]),
);

function join(path: string, field: string): string {
  if (/^\d+$/.test(field)) return `${path}[${field}]`;
  return path === "" ? field : `${path}.${field}`;
}

// `/entities/0/conditions/1` → `entities[0].conditions[1]`, after `prefix`.
function fieldPath(prefix: string, pointer: string): string {
  return pointer.split("/").slice(1).map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~")).reduce(join, prefix);
}

const ARTICLE: Readonly<Record<string, string>> = {
  integer: "an integer", number: "a number", string: "a string", object: "an object", array: "an array", boolean: "a boolean", null: "null",
};

function typeWords(types: unknown): string {
  const words = (Array.isArray(types) ? types : String(types).split(",")).map((type) => ARTICLE[String(type)] ?? String(type));
  return words.length === 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words.at(-1) ?? ""}`;
}


// One ajv error as "<field path>: <message>". With allErrors off the last error is the one
// that failed; any before it are the alternatives of the anyOf that reports it.
function describeError(error: ErrorObject, prefix: string, root: string): string {
  const at = fieldPath(prefix, error.instancePath);
  const parent = (error.parentSchema ?? {}) as AnySchemaObject;
  const params = error.params as Record<string, unknown>;
  const own = typeof parent["errorMessage"] === "string" ? parent["errorMessage"] : null;
  const text = (path: string, message: string): string => `${path === "" ? root : path}: ${message}`;
  switch (error.keyword) {
    case "additionalProperties":
      return text(join(at, String(params["additionalProperty"])), "unknown field");
    case "unevaluatedProperties":
      return text(join(at, String(params["unevaluatedProperty"])), "unknown field");
    case "required":
      return text(join(at, String(params["missingProperty"])), "is required");
    case "discriminator":
      if (params["error"] === "tag") return text(join(at, "kind"), "must be a string");
      return text(join(at, "kind"), `must be one of ${kindsOf(parent).join(", ")}, got ${JSON.stringify(params["tagValue"])}`);
    case "type":
      return text(at, own ?? `must be ${typeWords(params["type"])}`);
    case "pattern": {
      const patternText = parent["patternErrorMessage"];
      return text(at, own ?? (typeof patternText === "string" ? patternText : error.message ?? "is invalid"));
    }
    case "minLength":
      return text(at, own ?? (params["limit"] === 1 ? "must not be empty" : error.message ?? "is too short"));
    case "const":
      return text(at, own ?? `must be ${JSON.stringify(params["allowedValue"])}`);
    case "anyOf":
    case "oneOf":
      return text(at, own ?? "matches none of the allowed forms");
    default:
      return text(at, own ?? error.message ?? "is invalid");
  }
}

function check(validate: ValidateFunction, value: unknown, prefix: string, root: string): void {
  if (validate(value)) return;
  const error = validate.errors?.at(-1);
  throw new HamError("EINVAL", error === undefined ? `${root}: invalid` : describeError(error, prefix, root));
}

// The config file's structure; errors name the field: `entities[0].conditions[1].actions[0].delay: must be > 0`.
export function checkConfigShape(raw: unknown): asserts raw is ConfigFile {
  check(validators().config, raw, "", "config");
}

// An action's own fields, picked out of a request or a config action by the schema's list for its kind.
export function pickActionFields(kind: string, read: (field: string) => unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = { kind };
  for (const field of kindFields.get(kind) ?? []) {
    const value = read(field);
    if (field !== "kind" && value !== undefined) fields[field] = value;
  }
  return fields;
}

export function checkActionFields(fields: Record<string, unknown>): asserts fields is ActionFields {
  check(validators().action, fields, "", "action");
}

export function checkFailActionFields(fields: Record<string, unknown>): asserts fields is FailActionFields {
  check(validators().failAction, fields, "", "fail-action");
}

export function checkProbeFields(raw: unknown): asserts raw is ProbeFields {
  check(validators().probe, raw, "probe", "probe");
}

export function checkPolicyFields(raw: unknown): asserts raw is PolicyFields {
  check(validators().policy, raw, "policy", "policy");
}
