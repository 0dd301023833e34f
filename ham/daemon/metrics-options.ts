import { readFileSync } from "node:fs";
import { HamError } from "../../lib/errors.js";
import { checkConfigShape } from "../core/schema.js";
import { formatOf, readConfigText } from "../server/config-text.js";
import type { MetricsAddress } from "./ham-options.js";

// `ham --metrics HOST:PORT` and the config file's `metrics:`: where the Prometheus endpoint
// listens. The flag wins over the file. A bare port (or `:PORT`) is loopback: the metrics name
// every supervised program, so they reach another host only when a host is named (node_exporter
// and PM2's exporters listen on every address by default; a supervisor should not).

export const METRICS_LOOPBACK = "127.0.0.1";

// The file's `metrics:` is wrong (one line, exit 1), as against a usage error (exit 2).
export class MetricsConfigError extends Error {}

// HOST:PORT, [IPv6]:PORT, :PORT or PORT; throws Error with a one-line message.
export function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) throw new Error(`--metrics takes HOST:PORT, :PORT or PORT (1-65535), not ${JSON.stringify(text)}`);
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? METRICS_LOOPBACK : host, port };
}

// The `metrics:` of a config file; null when it has none. A file that cannot be read or is wrong
// elsewhere is left to the HAM's own load of it (which says why, as for `cluster:`).
function readMetricsSetting(file: string): string | null {
  let raw: unknown;
  try {
    raw = readConfigText(readFileSync(file, "utf8"), formatOf(file)).value;
    checkConfigShape(raw);
  } catch (error) {
    const message = error instanceof HamError ? error.message.replace(/^[A-Z]+: /, "") : "";
    if (message.startsWith("metrics")) throw new MetricsConfigError(`${file}: ${message}`);
    return null;
  }
  return raw.metrics ?? null;
}

// The flag (null: not given) over the config file's setting. A bad flag throws Error (the caller
// makes it a usage error); a bad file setting MetricsConfigError.
export function resolveMetrics(flag: string | null, configFile: string | null): MetricsAddress | null {
  if (flag !== null) return parseMetricsAddress(flag);
  const setting = configFile === null ? null : readMetricsSetting(configFile);
  if (setting === null) return null;
  try {
    return parseMetricsAddress(setting);
  } catch (error) {
    throw new MetricsConfigError(`${configFile}: metrics: ${(error as Error).message.replace(/^--metrics /, "")}`);
  }
}
