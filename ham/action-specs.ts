import { splitCommandLine } from "../lib/command-line.js";
import { HamError } from "../lib/errors.js";
import type { ActionSpec, FailSpec } from "../lib/tree/types.js";
import { signalNumber } from "./processes.js";
import type { Args } from "./request-args.js";

// Builds an action's spec from request arguments (the API and the config file both send
// these), checking every field: a bad one is EINVAL naming the field.
export function readActionSpec(kind: string, args: Args): ActionSpec {
  switch (kind) {
    case "restart":
    case "execute": {
      const line = args.string("line");
      splitCommandLine(line);
      return { kind, line };
    }
    case "waitfor": {
      const delay = args.int("delay");
      if (delay <= 0) throw new HamError("EINVAL", "waitfor delay must be > 0 ms");
      const path = args.optionalString("path");
      if (path !== null && !path.startsWith("/")) throw new HamError("EINVAL", "waitfor path must be absolute");
      // With a path, the delay is rounded up to a multiple of 100 ms (reference §5.8).
      return { kind, path, delayMs: path === null ? delay : Math.ceil(delay / 100) * 100 };
    }
    case "pulse": {
      checkNode(args);
      const pid = positive(args, "pid");
      const chid = positive(args, "chid");
      return { kind, pid, chid, code: args.int("code", 0), value: args.int("value", 0) };
    }
    case "signal": {
      checkNode(args);
      const pid = positive(args, "pid");
      const raw = args.raw("signal");
      if (typeof raw !== "number" && typeof raw !== "string") throw new HamError("EINVAL", "signal must be a number or a name");
      const signal = signalNumber(raw);
      if (signal <= 0 || signal > 64) throw new HamError("EINVAL", `signal out of range: ${raw}`);
      return { kind, pid, signal, code: args.int("code", 0), value: args.int("value", 0) };
    }
    case "healthy":
      return { kind };
    case "log": {
      const verbosity = args.int("verbosity", 0);
      if (verbosity < 0) throw new HamError("EINVAL", "log verbosity must be >= 0");
      return { kind, message: args.string("message"), prefix: args.bool("prefix", false), verbosity };
    }
    default:
      throw new HamError("EINVAL", `unknown action kind ${kind}`);
  }
}

export function readFailSpec(kind: string, args: Args): FailSpec {
  if (kind === "restart" || kind === "healthy") throw new HamError("EINVAL", `no ${kind} fail-action exists`);
  return readActionSpec(kind, args) as FailSpec;
}

function positive(args: Args, field: string): number {
  const value = args.int(field);
  if (value <= 0) throw new HamError("EINVAL", `${field} must be > 0`);
  return value;
}

// Remote HAMs do not exist yet: only the local node.
function checkNode(args: Args): void {
  if (args.int("nd", 0) !== 0) throw new HamError("EINVAL", "only ND_LOCAL_NODE (0) is supported");
}
