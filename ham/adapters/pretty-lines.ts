import { createRequire } from "node:module";

// How a log line shows its time (ham -t): none, seconds since start, ISO, or HH:MM:SS.mmm.
export type TimestampMode = "none" | "relative" | "absolute" | "shortabs";

// Human log lines for a terminal, by pino-pretty's own printer run in this process: each JSON
// line pino produces is turned into one line before the same synchronous write to stderr, so
// nothing waits in a transport's worker thread when the HAM is SIGKILLed.
//   12:03:04.123 WARN:  [worker] worker (pid 4242) died: killed by SIGKILL
type PinoPretty = typeof import("pino-pretty");

// pino's numeric levels in the lines pretty-printed (pino-pretty colours by number).
const LABEL_WIDTH = 5;
const LABELS: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
// Anything that could move the cursor or end the line is shown escaped: one event, one line.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function visible(text: string): string {
  return text.replace(CONTROL, (char) => JSON.stringify(char).slice(1, -1));
}

// How the `time` field pino writes is shown: wall-clock times in local time.
function translateTimeFor(mode: TimestampMode): string | false {
  switch (mode) {
    case "absolute":
      return "SYS:yyyy-mm-dd HH:MM:ss.l";
    case "shortabs":
      return "SYS:HH:MM:ss.l";
    case "none":
    case "relative":
      return false;
  }
}

// Returns a function from one pino JSON line to one human line (with its "\n").
export function prettyLines(options: { timestamps: TimestampMode; color: boolean }): (jsonLine: string) => string {
  // Loaded only here: a HAM that logs JSON does not carry pino-pretty's modules.
  const { prettyFactory } = createRequire(import.meta.url)("pino-pretty") as PinoPretty;
  return prettyFactory({
    colorize: options.color,
    translateTime: translateTimeFor(options.timestamps),
    // The time as it is, not in brackets.
    customPrettifiers: { time: (time) => String(time) },
    // Every field but the message is in the message already, or in the JSON log; a `pid` field
    // is an entity's, not the "(pid)" of the process writing that pino-pretty shows.
    hideObject: true,
    ignore: "pid,hostname,name,caller",
    messageFormat: (log, messageKey, _levelLabel, { colors }) => {
      const label = LABELS[Number(log["level"])] ?? "";
      const pad = " ".repeat(Math.max(0, LABEL_WIDTH - label.length));
      const entity = typeof log["entity"] === "string" ? `${colors.bold(`[${visible(log["entity"])}]`)} ` : "";
      return `${pad}${entity}${visible(String(log[messageKey] ?? ""))}`;
    },
  });
}
