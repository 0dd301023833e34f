import { pino, type DestinationStream, type Logger } from "pino";
import { LineWriter } from "./line-writer.js";
import { prettyLines } from "./pretty-lines.js";

// The activity log: one JSON line per event, with pino, or one human line on a terminal
// (`--log-format pretty`). Each event has a verbosity at which it is written (see
// ham/README.md); `-d` sets the internal verbosity to 0.
export type { TimestampMode } from "./pretty-lines.js";
import type { TimestampMode } from "./pretty-lines.js";
export type LogFormat = "json" | "pretty";

export const LOG_LEVEL = {
  // deaths, restarts, attach/detach, action failures, missed heartbeats, start/stop
  events: 1,
  // conditions fired, actions run, API errors
  detail: 2,
  // every API request
  trace: 3,
} as const;

export interface ActivityLog {
  verbosity: number;
  // Lines that could not be written (a closed terminal or pipe, a full disk): counted and
  // dropped, never fatal. A line is written or dropped in its write(): none waits for a flush.
  readonly writeFailures: number;
  write(minVerbosity: number, level: "info" | "warn" | "error", fields: Record<string, unknown>, message: string): void;
}

function timestampFor(mode: TimestampMode): (() => string) | false {
  const started = performance.now();
  switch (mode) {
    case "none":
      return false;
    case "relative":
      return () => `,"rel":${((performance.now() - started) / 1000).toFixed(6)}`;
    case "absolute":
      return () => `,"time":"${new Date().toISOString()}"`;
    case "shortabs":
      return () => `,"time":"${new Date().toISOString().slice(11, 23)}"`;
  }
}

// The `time` pino-pretty shows: the seconds since start, or the epoch it translates to local time.
function prettyTimestampFor(mode: TimestampMode): (() => string) | false {
  const started = performance.now();
  switch (mode) {
    case "none":
      return false;
    case "relative":
      return () => `,"time":"${((performance.now() - started) / 1000).toFixed(6)}"`;
    case "absolute":
    case "shortabs":
      return () => `,"time":${Date.now()}`;
  }
}

export interface ActivityLogOptions {
  // null: stderr.
  readonly file: string | null;
  readonly timestamps: TimestampMode;
  readonly verbosity: number;
  // "pretty" only on stderr: files stay JSON lines (the options refuse the rest).
  readonly format: LogFormat;
  readonly color: boolean;
}

export function createActivityLog(options: ActivityLogOptions): ActivityLog {
  // Synchronous writes: a line is on its way before the event's next step, and none is lost
  // when the HAM is killed (≈10 µs per line).
  const destination = LineWriter.open(options.file);
  const pretty = options.format === "pretty" && options.file === null;
  const logger: Logger = pretty
    ? pino({ base: null, timestamp: prettyTimestampFor(options.timestamps) }, prettyDestination(destination, options))
    : pino({ base: null, timestamp: timestampFor(options.timestamps), formatters: { level: (label) => ({ level: label }) } }, destination);
  // Lines pino or pino-pretty could not make (the writer counts those it could not write).
  let unmade = 0;
  const log: ActivityLog = {
    verbosity: options.verbosity,
    get writeFailures() {
      return unmade + destination.failures;
    },
    write(minVerbosity, level, fields, message) {
      if (log.verbosity < minVerbosity) return;
      try {
        logger[level](fields, message);
      } catch {
        // A log that cannot be written is not a reason to stop supervising.
        unmade += 1;
      }
    },
  };
  return log;
}

// Each JSON line pino writes, made human and written at once, in the same synchronous write.
function prettyDestination(destination: LineWriter, options: ActivityLogOptions): DestinationStream {
  const toLine = prettyLines({ timestamps: options.timestamps, color: options.color });
  return {
    write(jsonLine: string) {
      destination.write(toLine(jsonLine));
    },
  };
}
