import { splitCommandLine } from "../lib/command-line.js";
import { HamError } from "../lib/errors.js";
import type { ActionSpec, FailSpec, RestartPolicy } from "../lib/tree/types.js";
import { signalNumber } from "./processes.js";
import type { Args } from "./request-args.js";
import {
  checkActionFields, checkFailActionFields, checkPolicyFields, pickActionFields, type ActionFields,
} from "./spec-schema.js";

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
