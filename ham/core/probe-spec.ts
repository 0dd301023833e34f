import { splitCommandLine } from "../../lib/command-line.js";
import { HamError } from "../../lib/errors.js";
import type { ProbeSpec, ProbeTiming } from "../../lib/tree/types.js";
import { checkProbeFields } from "./schema.js";

// A probe's spec from a request or a config file (arriving as `unknown`): the schema
// (schema/ham-config.schema.json, $defs/probe) checks its fields, this fills the defaults and
// checks what a schema cannot say (a command line's quotes, a URL, a regular expression).

// Kubernetes' defaults (periodSeconds 10, timeoutSeconds 1, failureThreshold 3,
// successThreshold 1, initialDelaySeconds 0), in ms.
export const PROBE_DEFAULTS: Omit<ProbeTiming, "name"> = Object.freeze({
  use: "liveness",
  intervalMs: 10_000,
  timeoutMs: 1_000,
  startGraceMs: 0,
  failureThreshold: 3,
  successThreshold: 1,
});

export function readProbeSpec(raw: unknown): ProbeSpec {
  checkProbeFields(raw);
  const timing: ProbeTiming = {
    name: raw.name ?? raw.kind,
    use: raw.use ?? PROBE_DEFAULTS.use,
    intervalMs: raw.intervalMs ?? PROBE_DEFAULTS.intervalMs,
    timeoutMs: raw.timeoutMs ?? PROBE_DEFAULTS.timeoutMs,
    startGraceMs: raw.startGraceMs ?? PROBE_DEFAULTS.startGraceMs,
    failureThreshold: raw.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
    successThreshold: raw.successThreshold ?? PROBE_DEFAULTS.successThreshold,
  };
  switch (raw.kind) {
    case "exec":
      fieldCheck("command", () => splitCommandLine(raw.command));
      return { ...timing, kind: "exec", command: raw.command };
    case "http": {
      fieldCheck("url", () => new URL(raw.url));
      if (raw.bodyMatches !== undefined) fieldCheck("bodyMatches", () => new RegExp(raw.bodyMatches ?? ""));
      return { ...timing, kind: "http", url: raw.url, bodyContains: raw.bodyContains ?? null, bodyMatches: raw.bodyMatches ?? null };
    }
    case "tcp":
      return { ...timing, kind: "tcp", host: raw.host ?? "127.0.0.1", port: raw.port };
  }
}

function fieldCheck(field: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/^[A-Z]+: /, "") : String(error);
    throw new HamError("EINVAL", `probe.${field}: ${message}`);
  }
}

// What a probe checks, in a few words (the log, the /ham view).
export function describeProbe(spec: ProbeSpec): string {
  switch (spec.kind) {
    case "exec":
      return `exec ${spec.command}`;
    case "http":
      return `http GET ${spec.url}`;
    case "tcp":
      return `tcp ${spec.host}:${spec.port}`;
  }
}
