import { pino, type Logger } from "pino";

// The activity log: one JSON line per event, with pino. Each event has a verbosity at
// which it is written (see ham/README.md); `-d` sets the internal verbosity to 0.
export type TimestampMode = "none" | "relative" | "absolute" | "shortabs";

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
  // Lines that could not be written (a closed pipe, a full disk): counted, never fatal.
  readonly writeFailures: number;
  write(minVerbosity: number, level: "info" | "warn" | "error", fields: Record<string, unknown>, message: string): void;
  flush(): void;
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

export function createActivityLog(options: { file: string | null; timestamps: TimestampMode; verbosity: number }): ActivityLog {
  // Synchronous writes: a line is on its way before the event's next step, and none is lost
  // when the HAM is killed (≈10 µs per line).
  const destination = pino.destination({ dest: options.file ?? 2, sync: true, mkdir: true });
  const logger: Logger = pino(
    { base: null, timestamp: timestampFor(options.timestamps), formatters: { level: (label) => ({ level: label }) } },
    destination,
  );
  let writeFailures = 0;
  // sonic-boom reports a failed write (EPIPE when a terminal or journald went away) as an
  // 'error' event, which would end the process if nobody listened.
  destination.on("error", () => {
    writeFailures += 1;
  });
  const log: ActivityLog = {
    verbosity: options.verbosity,
    get writeFailures() {
      return writeFailures;
    },
    write(minVerbosity, level, fields, message) {
      if (log.verbosity < minVerbosity) return;
      try {
        logger[level](fields, message);
      } catch {
        // A log that cannot be written is not a reason to stop supervising.
        writeFailures += 1;
      }
    },
    flush() {
      try {
        destination.flushSync();
      } catch {
        // nothing more to do
      }
    },
  };
  return log;
}
