import { readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveRunDir } from "../../lib/run-dir.js";
import type { LogFormat, TimestampMode } from "../adapters/activity-log.js";
import type { ClusterOptions, HamOptions } from "./ham-options.js";
import { ClusterConfigError, readClusterSection, resolveCluster, type ClusterFlags } from "./cluster-options.js";
import { DEFAULTS } from "./defaults.js";
import { resolveMetrics, MetricsConfigError } from "./metrics-options.js";

// What `ham` is told: the HAM's own options, and what only the command line has.
// (The systemd unit's part comes from the environment: adapters/systemd-notify.ts.)
export interface CliOptions extends Omit<HamOptions, "systemd"> {
  readonly group: string | null;
  readonly foreground: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: ham [-?dh] [-f file] [-t none|relative|absolute|shortabs] [-V level] [-v[v...]]
           [--run-dir DIR] [--mount DIR] [--no-mount] [--config FILE] [--group NAME] [--foreground] [--fresh]
           [--watchdog-ms MS] [--log-format pretty|json] [--metrics [HOST:]PORT]
           [--node NAME --etcd URL[,URL...] [--cluster NAME] [--lease-ttl S] [--etcd-ca FILE]
            [--etcd-cert FILE --etcd-key FILE] [--etcd-user USER [--etcd-password PASS]]]`;

export class UsageError extends Error {}

const MODES: readonly TimestampMode[] = ["none", "relative", "absolute", "shortabs"];
const FORMATS: readonly LogFormat[] = ["pretty", "json"];

// What `ham` writes its log to when no -f is given: its stderr, a terminal or not.
export interface Stderr {
  readonly isTTY: boolean;
  readonly hasColors: boolean;
}

export function stderrOf(stream: NodeJS.WriteStream = process.stderr): Stderr {
  return { isTTY: stream.isTTY === true, hasColors: stream.isTTY === true && stream.hasColors() };
}

// Parses ham's argv (QNX options plus ours); throws UsageError with a one-line message.
export function parseHamArgs(argv: readonly string[], stderr: Stderr = stderrOf()): CliOptions {
  let runDir: string | null = null;
  let logFile: string | null = null;
  let timestamps: TimestampMode | null = null;
  let logFormat: LogFormat | null = null;
  let verbosity: number = DEFAULTS.verbosity;
  let configFile: string | null = null;
  let mount: string | null | undefined;
  let group: string | null = null;
  let foreground = false;
  let fresh = false;
  let watchdogMs: number = DEFAULTS.watchdogMs;
  let help = false;
  let metrics: string | null = null;
  const cluster: ClusterFlags = { node: null, etcd: null, name: null, ca: null, cert: null, key: null, user: null,
    password: process.env["HAMD_ETCD_PASSWORD"] ?? null, leaseTtlS: null };
  const args = [...argv];
  const value = (flag: string, inline: string): string => {
    if (inline !== "") return inline;
    const next = args.shift();
    if (next === undefined) throw new UsageError(`option ${flag} needs a value`);
    return next;
  };
  while (args.length > 0) {
    const arg = args.shift() ?? "";
    const [flag, inlineLong] = arg.startsWith("--") ? [arg.split("=")[0] ?? arg, arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : ""] : [arg, ""];
    if (flag === "--run-dir") runDir = value(flag, inlineLong);
    else if (flag === "--mount") mount = value(flag, inlineLong);
    else if (flag === "--no-mount") mount = null;
    else if (flag === "--config") configFile = value(flag, inlineLong);
    else if (flag === "--group") group = value(flag, inlineLong);
    else if (flag === "--foreground") foreground = true;
    else if (flag === "--fresh") fresh = true;
    else if (flag === "--metrics") metrics = value(flag, inlineLong);
    else if (flag === "--log-format") {
      const format = value(flag, inlineLong);
      if (!FORMATS.includes(format as LogFormat)) throw new UsageError(`--log-format takes pretty or json, not ${format}`);
      logFormat = format as LogFormat;
    }
    else if (flag === "--watchdog-ms") {
      const ms = Number(value(flag, inlineLong));
      if (!Number.isSafeInteger(ms) || ms < 0) throw new UsageError("--watchdog-ms takes a number of milliseconds >= 0 (0: no watchdog)");
      watchdogMs = ms;
    }
    else if (flag === "--node") cluster.node = value(flag, inlineLong);
    else if (flag === "--etcd") cluster.etcd = value(flag, inlineLong);
    else if (flag === "--cluster") cluster.name = value(flag, inlineLong);
    else if (flag === "--etcd-ca") cluster.ca = value(flag, inlineLong);
    else if (flag === "--etcd-cert") cluster.cert = value(flag, inlineLong);
    else if (flag === "--etcd-key") cluster.key = value(flag, inlineLong);
    else if (flag === "--etcd-user") cluster.user = value(flag, inlineLong);
    else if (flag === "--etcd-password") cluster.password = value(flag, inlineLong);
    else if (flag === "--lease-ttl") {
      const seconds = Number(value(flag, inlineLong));
      if (!Number.isSafeInteger(seconds) || seconds < 2) throw new UsageError("--lease-ttl takes whole seconds >= 2 (etcd's minimum TTL)");
      cluster.leaseTtlS = seconds;
    }
    else if (flag === "-h" || flag === "-?" || flag === "--help") help = true;
    else if (flag === "-d") verbosity = 0;
    else if (flag.startsWith("-f")) logFile = value("-f", flag.slice(2));
    else if (flag.startsWith("-t")) {
      const mode = value("-t", flag.slice(2));
      if (!MODES.includes(mode as TimestampMode)) throw new UsageError(`-t takes none, relative, absolute or shortabs, not ${mode}`);
      timestamps = mode as TimestampMode;
    } else if (flag.startsWith("-V")) {
      const level = Number(value("-V", flag.slice(2)));
      if (!Number.isSafeInteger(level) || level < 0) throw new UsageError("-V takes a level >= 0");
      verbosity = level;
    } else if (/^-v+$/.test(flag)) verbosity += flag.length - 1;
    else throw new UsageError(`unknown option ${arg}`);
  }
  // The config file's cluster section under the flags: a mistake on the command line alone is a
  // usage error (exit 2), one that involves the file a one-line error (exit 1).
  let resolvedCluster: ClusterOptions | null;
  try {
    resolvedCluster = resolveCluster(cluster, configFile === null ? null : readClusterSection(configFile));
  } catch (error) {
    if (error instanceof ClusterConfigError && configFile === null) throw new UsageError(error.message);
    throw error;
  }
  let resolvedMetrics;
  try {
    resolvedMetrics = resolveMetrics(metrics, configFile);
  } catch (error) {
    if (error instanceof MetricsConfigError) throw error;
    throw new UsageError((error as Error).message);
  }
  // Human lines only where a human reads them: on stderr, a terminal by default. A log file
  // (-f, or the background daemon's RUN_DIR/ham.log) stays JSON lines.
  const toStderr = foreground && logFile === null;
  if (logFormat === "pretty" && !toStderr) throw new UsageError("--log-format pretty is for a log on stderr (--foreground without -f): log files stay JSON lines");
  const format = logFormat ?? (toStderr && stderr.isTTY ? "pretty" : "json");
  const resolvedRunDir = resolveRunDir(runDir);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const defaultMount = isRoot ? "/ham" : join(resolvedRunDir, "ham");
  return {
    runDir: resolvedRunDir, logFile, verbosity, configFile,
    // A human reads the wall clock; JSON lines keep QNX's default (seconds since start).
    timestamps: timestamps ?? (format === "pretty" ? "shortabs" : DEFAULTS.timestamps),
    logFormat: format, logColor: format === "pretty" && stderr.hasColors,
    mount: mount === undefined ? defaultMount : mount, group, gid: group === null ? null : groupId(group), foreground, fresh, watchdogMs, help,
    cluster: resolvedCluster, metrics: resolvedMetrics,
  };
}

// A group name (or number) → its gid, from /etc/group.
export function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let text = "";
  try {
    text = readFileSync("/etc/group", "utf8");
  } catch {
    // no /etc/group: only numbers work
  }
  for (const line of text.split("\n")) {
    const [groupName, , gid] = line.split(":");
    if (groupName === name && gid !== undefined) return Number(gid);
  }
  throw new UsageError(`unknown group ${name}`);
}
