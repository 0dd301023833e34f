import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { readActionSpec, readFailSpec, readPolicy } from "../../dist/ham/core/specs.js";
import { parseConfig } from "../../dist/ham/server/config-file.js";
import { DEFAULTS } from "../../dist/ham/daemon/defaults.js";
import { Args } from "../../dist/ham/core/specs.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCHEMA_FILE = join(ROOT, "schema/ham-config.schema.json");

const config = (value: unknown) => JSON.stringify(value);
// One entity with one condition holding `action`.
const withAction = (action: Record<string, unknown>, condition: Record<string, unknown> = {}) => config({
  entities: [{ name: "w", command: "/bin/sleep 9", conditions: [{ name: "d", type: "CONDDEATH", ...condition, actions: [{ name: "a", ...action }] }] }],
});
const withEntity = (entity: Record<string, unknown>) => config({ entities: [{ name: "w", command: "/bin/sleep 9", ...entity }] });
const at = "entities[0].conditions[0].actions[0]";

describe("config files are checked against the published schema", () => {
  it.each([
    ["the example", readFileSync(join(ROOT, "examples/example.json"), "utf8")],
    ["a $schema key for editors", config({ $schema: "./node_modules/hamd/schema/ham-config.schema.json", entities: [] })],
    ["a placeholder and a watched pid", config({ entities: [{ name: "p", placeholder: true }, { name: "q", pid: 1, flags: "HENTITYKEEPONDEATH" }] })],
    ["every action kind", withAction({ kind: "log", message: "m", prefix: 1, verbosity: 2, fail: [
      { name: "x", kind: "execute", line: "/bin/true" }, { name: "s", kind: "signal", pid: 1, signal: "USR1", nd: 0 },
      { name: "p", kind: "pulse", pid: 1, chid: 2, code: 3, value: 4 }, { name: "t", kind: "waitfor", path: "/tmp/x", delay: 50 },
    ] })],
    ["a budget cleared", withEntity({ policy: { minUptimeMs: 0, budget: null } })],
    ["global conditions", config({ global: { conditions: [{ name: "g", type: 7, actions: [{ name: "h", kind: "healthy" }] }] } })],
  ])("accepts %s", (_what, text) => {
    expect(() => parseConfig(text)).not.toThrow();
  });

  it("accepts the YAML example, the same HAM as the JSON one", () => {
    const yaml = parseConfig(readFileSync(join(ROOT, "examples/example.yaml"), "utf8"), "examples/example.yaml");
    expect(yaml).toEqual(parseConfig(readFileSync(join(ROOT, "examples/example.json"), "utf8")));
  });

  it.each(([
    [config([]), "config: must be an object"],
    [config({ entity: [] }), "entity: unknown field"],
    [config({ entities: {} }), "entities: must be an array"],
    ['{ "entities": [ { "name": "a", "command": 12 } ] }', "entities[0].command: must be a string"],
    [config({ entities: [{ name: "a" }] }), 'entities[0]: needs "command" (a command line), "pid" or "placeholder": true'],
    [config({ entities: [{ name: "a", placeholder: false }] }), 'entities[0]: needs "command" (a command line), "pid" or "placeholder": true'],
    [withEntity({ comand: "/bin/true" }), "entities[0].comand: unknown field"],
    [withEntity({ name: "a/b" }), 'entities[0].name: may not contain "/" or NUL, nor start with "."'],
    [withEntity({ name: "" }), "entities[0].name: must not be empty"],
    [config({ entities: [{ name: "a", command: "/bin/true" }, { name: "a", placeholder: true }] }), "entities[1].name: duplicate entity a"],
    [withEntity({ flags: -1 }), "entities[0].flags: must be >= 0"],
    [withEntity({ flags: ["HENTITYKEEPONDEATH", "NOPE"] }), 'entities[0].flags[1]: must be a number or a QNX constant name, got "NOPE"'],
    [withEntity({ policy: { minUptimeMs: -1 } }), "entities[0].policy.minUptimeMs: must be >= 0"],
    [withEntity({ policy: { budget: { restarts: 0, windowMs: 5 } } }), "entities[0].policy.budget.restarts: must be >= 1"],
    [withEntity({ policy: { budget: { restarts: 1 } } }), "entities[0].policy.budget.windowMs: is required"],
    [withEntity({ policy: { maxRestarts: 3 } }), "entities[0].policy.maxRestarts: unknown field"],
    [withEntity({ conditions: [{ name: "d" }] }), "entities[0].conditions[0].type: is required"],
    [withEntity({ conditions: [{ name: "d", type: "CONDDEAD" }] }), 'entities[0].conditions[0].type: must be a number or a QNX constant name, got "CONDDEAD"'],
    [withEntity({ conditions: [{ name: "d", type: 42 }] }), "entities[0].conditions[0].type: invalid condition type 42"],
    [withEntity({ conditions: [{ name: "d", type: 1 }, { name: "d", type: 2 }] }), "entities[0].conditions[1].name: duplicate condition d"],
    [withAction({ kind: "waitfor", delay: 0 }), `${at}.delay: must be > 0`],
    [withAction({ kind: "waitfor", delay: 1.5 }), `${at}.delay: must be an integer`],
    [withAction({ kind: "waitfor", delay: 100, path: "relative" }), `${at}.path: must be an absolute path`],
    [withAction({ kind: "log", message: "m", delay: 5 }), `${at}.delay: unknown field`],
    [withAction({ kind: "log" }), `${at}.message: is required`],
    [withAction({ kind: "reboot" }), `${at}.kind: must be one of restart, execute, waitfor, pulse, signal, healthy, log, got "reboot"`],
    [withAction({ kind: 3 }), `${at}.kind: must be a string`],
    [withAction({ name: undefined, kind: "healthy" }), `${at}.name: is required`],
    [withAction({ kind: "signal", pid: 1, signal: "SIGNOPE" }), `${at}.signal: unknown signal SIGNOPE`],
    [withAction({ kind: "signal", pid: 1, signal: 65 }), `${at}.signal: must be <= 64`],
    [withAction({ kind: "pulse", pid: 1, chid: 1, nd: 2 }), `${at}.nd: only ND_LOCAL_NODE (0) is supported`],
    [withAction({ kind: "execute", line: '/bin/echo "open' }), `${at}.line: unterminated " quote in command line`],
    [withAction({ kind: "healthy", fail: [{ name: "f", kind: "restart" }] }), `${at}.fail[0].kind: must be one of execute, waitfor, pulse, signal, log, got "restart"`],
    [withAction({ kind: "healthy", fail: [{ name: "f", kind: "log", message: "m", flags: 1 }] }), `${at}.fail[0].flags: unknown field`],
    [withAction({ kind: "restart" }, { type: "CONDATTACH" }), `${at}: a restart action belongs in an entity's CONDDEATH, CONDABNORMALDEATH or CONDPROBEFAIL condition`],
    [withAction({ kind: "waitfor", delay: 5 }, { flags: "HCONDNOWAIT" }), `${at}: no waitfor in an HCONDNOWAIT condition`],
    [config({ entities: [{ name: "w", pid: 1, conditions: [{ name: "d", type: "CONDDEATH", actions: [{ name: "a", kind: "restart" }] }] }] }), `${at}.line: is required`],
  ] as const).map(([text, message]) => [message, text]))("rejects a file: %s", (message, text) => {
    // Each file is one line of JSON: every error names line 1 before its field.
    expect(() => parseConfig(text)).toThrow(expect.objectContaining({ code: "EINVAL", message: `EINVAL: line 1: ${message}` }));
  });
});

describe("API actions are checked against the same schema", () => {
  const request = (fields: Record<string, unknown>) => new Args({ ename: "e", cname: "c", aname: "a", flags: 0, ...fields });

  it("builds a spec from a request's own fields, ignoring the request's others", () => {
    expect(readActionSpec("waitfor", request({ kind: "waitfor", path: "/tmp/x", delay: 150 }))).toEqual({ kind: "waitfor", path: "/tmp/x", delayMs: 200 });
    expect(readActionSpec("waitfor", request({ kind: "waitfor", path: null, delay: 150 }))).toEqual({ kind: "waitfor", path: null, delayMs: 150 });
    expect(readActionSpec("signal", request({ kind: "signal", nd: 0, pid: 7, signal: "USR1", code: 1, value: 2 })))
      .toEqual({ kind: "signal", pid: 7, signal: 10, code: 1, value: 2 });
    expect(readFailSpec("log", request({ fname: "f", kind: "log", message: "m", prefix: true, verbosity: 1 })))
      .toEqual({ kind: "log", message: "m", prefix: true, verbosity: 1 });
    expect(readPolicy({ backoffMaxMs: 10, budget: null }, DEFAULTS.restartPolicy)).toEqual({ ...DEFAULTS.restartPolicy, backoffMaxMs: 10, budget: null });
  });

  it.each([
    [() => readActionSpec("pulse", request({ pid: 0, chid: 1 })), "pid: must be >= 1"],
    [() => readActionSpec("execute", request({ line: 5 })), "line: must be a string"],
    [() => readActionSpec("nope", request({})), 'kind: must be one of restart, execute, waitfor, pulse, signal, healthy, log, got "nope"'],
    [() => readFailSpec("healthy", request({})), 'kind: must be one of execute, waitfor, pulse, signal, log, got "healthy"'],
    [() => readPolicy({ minUptimeMs: "1" }, DEFAULTS.restartPolicy), "policy.minUptimeMs: must be an integer"],
    [() => readPolicy([], DEFAULTS.restartPolicy), "policy: must be an object"],
  ])("rejects a bad request (%#)", (read, message) => {
    expect(read).toThrow(expect.objectContaining({ code: "EINVAL", message: `EINVAL: ${message}` }));
  });
});

describe("the published schema file", () => {
  // What an editor does: a plain draft 2020-12 validator, hamd's own annotations ignored.
  const validate = new Ajv2020({ strict: false, allowUnionTypes: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")));
  const readmeExample = /## The config file[\s\S]*?```json\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, "README.md"), "utf8"))?.[1];
  const examples = [
    ...readdirSync(join(ROOT, "examples")).filter((name) => /\.(json|ya?ml)$/.test(name)).map((name) => [name, readFileSync(join(ROOT, "examples", name), "utf8")]),
    ["README.md", readmeExample ?? "missing"],
  ];

  it("is a valid draft 2020-12 schema (the HAM does not check this at start)", () => {
    const ajv = new Ajv2020({ strict: false });
    expect(ajv.validateSchema(JSON.parse(readFileSync(SCHEMA_FILE, "utf8"))), JSON.stringify(ajv.errors)).toBe(true);
  });

  it.each(examples)("accepts %s", (name, text) => {
    // What the YAML language server validates: the document as JSON data.
    const value: unknown = /\.ya?ml$/.test(name) ? parseYaml(text) : JSON.parse(text);
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
  });

  it("is named by each example, for editors: $schema in JSON, the modeline in YAML", () => {
    expect(JSON.parse(readFileSync(join(ROOT, "examples/example.json"), "utf8")).$schema).toBe("../schema/ham-config.schema.json");
    expect(readFileSync(join(ROOT, "examples/example.yaml"), "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=../schema/ham-config.schema.json");
  });

  it("rejects what the HAM rejects", () => {
    expect(validate({ entities: [{ name: "w", command: "/bin/true", conditions: [{ name: "d", type: "CONDDEATH", actions: [{ name: "a", kind: "log" }] }] }] })).toBe(false);
    expect(validate({ entities: [{ name: "w" }] })).toBe(false);
  });
});
