import { splitCommandLine } from "../../lib/command-line.js";
import { HamError } from "../../lib/errors.js";
import { checkName } from "../../lib/names.js";
import type { ActionSpec, FailSpec, RestartPolicy } from "../../lib/tree/types.js";
import { signalNumber } from "../../lib/signals.js";
import type { Caller, ReplyTo } from "./events.js";
import { checkActionFields, checkFailActionFields, checkPolicyFields, pickActionFields, type ActionFields } from "./schema.js";

// Reads a request's arguments, which arrive as `unknown`: every accessor checks the type
// and rejects with EINVAL naming the field, so handlers work on trusted values.
export class Args {
  private readonly record: Record<string, unknown>;

  constructor(raw: unknown) {
    if (raw === undefined || raw === null) this.record = {};
    else if (typeof raw === "object" && !Array.isArray(raw)) this.record = raw as Record<string, unknown>;
    else throw new HamError("EINVAL", "arguments must be an object");
  }

  has(field: string): boolean {
    return this.record[field] !== undefined && this.record[field] !== null;
  }

  int(field: string, fallback?: number): number {
    const value = this.record[field];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new HamError("EINVAL", `${field} must be an integer`);
    return value;
  }

  // Unsigned 32-bit flags.
  flags(field = "flags"): number {
    const value = this.int(field, 0);
    if (value < 0 || value > 0xffffffff) throw new HamError("EINVAL", `${field} must be an unsigned 32-bit value`);
    return value;
  }

  string(field: string): string {
    const value = this.record[field];
    if (typeof value !== "string") throw new HamError("EINVAL", `${field} must be a string`);
    return value;
  }

  optionalString(field: string): string | null {
    const value = this.record[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") throw new HamError("EINVAL", `${field} must be a string or null`);
    return value;
  }

  bool(field: string, fallback: boolean): boolean {
    const value = this.record[field];
    if (value === undefined) return fallback;
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return value !== 0;
    throw new HamError("EINVAL", `${field} must be a boolean`);
  }

  name(field: string, what: string): string {
    return checkName(this.record[field], what);
  }

  // An entity name, or null for the global entity.
  entityName(field = "ename"): string | null {
    const value = this.record[field];
    return value === null || value === undefined ? null : checkName(value, "entity");
  }

  raw(field: string): unknown {
    return this.record[field];
  }
}

// Rejects bits not valid for the item kind.
export function checkFlags(flags: number, valid: number, what: string): number {
  if ((flags & ~valid) !== 0) throw new HamError("EINVAL", `invalid ${what} flags 0x${flags.toString(16)}`);
  return flags;
}

// Builds an action's spec from request arguments (the API and the config file both send
// these): the schema (spec-schema.ts) checks the fields, this adds what it cannot say. A bad
// field is EINVAL starting with its name: `delay: must be > 0`.
export function readActionSpec(kind: string, args: Args): ActionSpec {
  const fields = pickActionFields(kind, (field) => args.raw(field));
  checkActionFields(fields);
  return buildSpec(fields);
}

export function readFailSpec(kind: string, args: Args): FailSpec {
  const fields = pickActionFields(kind, (field) => args.raw(field));
  checkFailActionFields(fields);
  return buildSpec(fields) as FailSpec;
}

// A restart policy's fields over `base` (the defaults, or the entity's current policy).
export function readPolicy(raw: unknown, base: RestartPolicy): RestartPolicy {
  checkPolicyFields(raw);
  const budget = raw.budget === undefined ? base.budget : raw.budget === null ? null : { restarts: raw.budget.restarts, windowMs: raw.budget.windowMs };
  return {
    minUptimeMs: raw.minUptimeMs ?? base.minUptimeMs,
    backoffInitialMs: raw.backoffInitialMs ?? base.backoffInitialMs,
    backoffMaxMs: raw.backoffMaxMs ?? base.backoffMaxMs,
    backoffResetMs: raw.backoffResetMs ?? base.backoffResetMs,
    budget,
    output: raw.output === undefined ? base.output ?? null : raw.output === null ? null : { maxBytes: raw.output.maxBytes, files: raw.output.files },
    faults: raw.faults === undefined ? base.faults ?? null : raw.faults === null ? null : { ...base.faults, ...raw.faults },
  };
}

function buildSpec(fields: ActionFields): ActionSpec {
  switch (fields.kind) {
    case "restart":
    case "execute": {
      // The schema lets a config file's restart omit its line (the entity's command is used).
      if (fields.line === undefined) throw new HamError("EINVAL", "line: is required");
      return { kind: fields.kind, line: commandLine(fields.line) };
    }
    case "waitfor": {
      const path = fields.path ?? null;
      // With a path, the delay is rounded up to a multiple of 100 ms (reference §5.8).
      return { kind: "waitfor", path, delayMs: path === null ? fields.delay : Math.ceil(fields.delay / 100) * 100 };
    }
    case "pulse":
      return { kind: "pulse", pid: fields.pid, chid: fields.chid, code: fields.code ?? 0, value: fields.value ?? 0 };
    case "signal":
      return { kind: "signal", pid: fields.pid, signal: signal(fields.signal), code: fields.code ?? 0, value: fields.value ?? 0 };
    case "healthy":
      return { kind: "healthy" };
    case "log": {
      const prefix = typeof fields.prefix === "number" ? fields.prefix !== 0 : fields.prefix ?? false;
      return { kind: "log", message: fields.message, prefix, verbosity: fields.verbosity ?? 0 };
    }
  }
}

function commandLine(line: string): string {
  try {
    splitCommandLine(line);
  } catch (error) {
    throw fieldError("line", error);
  }
  return line;
}

function signal(value: number | string): number {
  try {
    return signalNumber(value);
  } catch (error) {
    throw fieldError("signal", error);
  }
}

function fieldError(field: string, error: unknown): unknown {
  return error instanceof HamError ? new HamError(error.code, `${field}: ${error.message.replace(/^[A-Z]+: /, "")}`) : error;
}

// A request as its transition sees it (requests.ts, items.ts).
export interface Request {
  readonly ref: number;
  readonly caller: Caller;
  // The client request it answers (null: none, or a config file's).
  readonly replyTo: ReplyTo | null;
  readonly args: Args;
  // Start time of the process the request names (attach by pid, or attach_self's caller).
  readonly pidStart: number | null;
  // Made by the config file `viaConfig` (an attach's spawn then answers no request).
  readonly viaConfig?: string;
}

// The reply comes later, from an event (an attach waits for its spawn, a waited-for switchover
// for its end).
export const DEFERRED = Symbol("deferred");
