import type { ActivityLogOptions, LogFormat, TimestampMode } from "../adapters/activity-log.js";
import type { StoreReader } from "../adapters/store.js";

export interface HamOptions {
  readonly runDir: string;
  readonly logFile: string | null;
  readonly timestamps: TimestampMode;
  // Resolved once by `ham` (a terminal or not) and carried to the Guardian, which writes to the
  // same stderr: "pretty" only when logFile is null.
  readonly logFormat: LogFormat;
  readonly logColor: boolean;
  readonly verbosity: number;
  readonly configFile: string | null;
  readonly mount: string | null;
  // Start empty, discarding a state left by a HAM and Guardian that died together.
  readonly fresh: boolean;
  // --group: the run directory, socket and /ham view open to this group (else owner only).
  readonly gid: number | null;
  // The Guardian SIGKILLs (then takes over from) a HAM that leaves its ping unanswered this
  // long (0: never).
  readonly watchdogMs: number;
  // In a cluster (issue 17): --node and --etcd; null outside one.
  readonly cluster: ClusterOptions | null;
  // Under a systemd unit of Type=notify (NOTIFY_SOCKET): what the HAM tells systemd, carried
  // to its Guardian here since no process the HAM starts may inherit NOTIFY_SOCKET
  // (adapters/systemd-notify.ts). Absent in the options of an older hamd.
  readonly systemd?: SystemdOptions | null;
  // --metrics HOST:PORT (or the config file's `metrics:`): the Prometheus endpoint; null: none.
  readonly metrics: MetricsAddress | null;
}

export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
}

export interface SystemdOptions {
  readonly notifySocket: string;
  // WATCHDOG_USEC when the unit sets WatchdogSec= and the watchdog is this HAM's (else null).
  readonly watchdogUsec: number | null;
}

export interface ClusterOptions {
  readonly name: string;
  readonly node: string;
  readonly etcd: readonly string[];
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
  readonly user: string | null;
  // Carried to the Guardian in its environment (HAMD_ETCD_PASSWORD), never in its argv.
  readonly password: string | null;
  readonly leaseTtlS: number;
}

// How this HAM came to be: started by `ham`, or a Guardian taking over from a dead HAM
// (with the reader that has been following the state).
export interface StartMode {
  readonly takeover: boolean;
  readonly reader: StoreReader | null;
}

// The activity log a HAM (or its Guardian) writes, as its options say.
export function activityLogOptions(options: HamOptions): ActivityLogOptions {
  return {
    file: options.logFile, timestamps: options.timestamps, verbosity: options.verbosity,
    format: options.logFormat, color: options.logColor,
  };
}
