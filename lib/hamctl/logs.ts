import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { prettyFactory } from "pino-pretty";

// `hamctl logs`: the last lines of the activity log (one JSON object per line), optionally
// one entity's, as human lines (pino-pretty; colours only on a terminal) or as the JSON lines
// themselves (--json); `-f` then follows the file as `tail -F` does: appended lines as they
// come, from the start again after a truncation, and on to the new file after a rotation.

export interface LogsOptions {
  readonly file: string;
  readonly lines: number;
  readonly entity: string | null;
  readonly follow: boolean;
  readonly json: boolean;
  // An entity's own output: plain lines, shown as they are.
  readonly raw?: boolean;
  readonly color: boolean;
  readonly write: (text: string) => void;
  readonly warn: (text: string) => void;
  // Ends following (SIGINT, SIGTERM).
  readonly signal: AbortSignal;
}

const CHUNK = 64 * 1024;
const POLL_MS = 100;
const NEWLINE = 0x0a;

export async function showLogs(options: LogsOptions): Promise<void> {
  const show = lineFilter(options);
  let fd = openOrNull(options.file);
  if (fd === null && !options.follow) throw new Error(`no ${options.raw === true ? "output file" : "activity log"} at ${options.file}`);
  let position = 0;
  let inode = 0;
  if (fd !== null) {
    const stat = fstatSync(fd);
    inode = stat.ino;
    const tail = lastLines(fd, stat.size, options.lines, show.matches);
    position = tail.end;
    for (const line of tail.lines) options.write(show.format(line));
  }
  if (!options.follow) {
    if (fd !== null) closeSync(fd);
    return;
  }
  let pending: Buffer = Buffer.alloc(0);
  const feed = (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    let start = 0;
    for (let newline = pending.indexOf(NEWLINE); newline >= 0; newline = pending.indexOf(NEWLINE, start)) {
      const line = pending.subarray(start, newline).toString("utf8");
      start = newline + 1;
      if (line !== "" && show.matches(line)) options.write(show.format(line));
    }
    pending = pending.subarray(start);
  };
  const drain = (from: number) => {
    const buffer = Buffer.alloc(CHUNK);
    for (;;) {
      const count = fd === null ? 0 : readSync(fd, buffer, 0, CHUNK, from);
      if (count <= 0) return from;
      feed(buffer.subarray(0, count));
      from += count;
    }
  };
  while (!options.signal.aborted) {
    if (fd !== null) {
      if (fstatSync(fd).size < position) {
        options.warn(`${options.file} truncated: following from its start`);
        position = 0;
        pending = Buffer.alloc(0);
      }
      position = drain(position);
    }
    const now = statOrNull(options.file);
    // Rotated (a new file under the name) or made at last: the old one was read to its end above.
    if (now !== null && (fd === null || now.ino !== inode)) {
      if (fd !== null) closeSync(fd);
      fd = openOrNull(options.file);
      inode = now.ino;
      position = 0;
      pending = Buffer.alloc(0);
      continue;
    }
    await pause(POLL_MS, options.signal);
  }
  if (fd !== null) closeSync(fd);
}

// The last `count` complete lines that match, reading the file backwards from `size`, and
// where the complete lines end (a line still being written is left to follow).
function lastLines(fd: number, size: number, count: number, matches: (line: string) => boolean): { lines: string[]; end: number } {
  const found: string[] = [];
  let end = -1;
  let position = size;
  let carry: Buffer = Buffer.alloc(0);
  while (position > 0 && (found.length < count || end < 0)) {
    const length = Math.min(CHUNK, position);
    position -= length;
    const chunk = Buffer.alloc(length);
    readSync(fd, chunk, 0, length, position);
    let data = Buffer.concat([chunk, carry]);
    if (end < 0) {
      const last = data.lastIndexOf(NEWLINE);
      if (last < 0) {
        carry = data;
        continue;
      }
      end = position + last + 1;
      data = data.subarray(0, last + 1);
    }
    let lineEnd = data.length;
    for (let i = data.length - 1; i >= 0 && found.length < count; i -= 1) {
      if (data[i] !== NEWLINE) continue;
      if (i + 1 < lineEnd) keep(data.subarray(i + 1, lineEnd));
      lineEnd = i;
    }
    carry = data.subarray(0, lineEnd);
  }
  if (position === 0 && carry.length > 0 && end >= 0 && found.length < count) keep(carry);
  return { lines: found.reverse(), end: Math.max(end, 0) };

  function keep(bytes: Buffer): void {
    const line = bytes.toString("utf8").replace(/\n$/, "");
    if (line !== "" && matches(line)) found.push(line);
  }
}

function lineFilter(options: LogsOptions): { matches: (line: string) => boolean; format: (line: string) => string } {
  const { entity } = options;
  const quoted = entity === null ? "" : JSON.stringify(entity);
  if (options.raw === true) return { matches: () => true, format: (line) => `${line}\n` };
  const matches = (line: string) => entity === null || (line.includes(quoted) && recordOf(line)?.["entity"] === entity);
  if (options.json) return { matches, format: (line) => `${line}\n` };
  const pretty = prettyFactory({
    colorize: options.color, singleLine: true, translateTime: "SYS:mmm dd HH:MM:ss.l",
    // pino's `(name/pid)` is here `(entity/pid)`, the entity's own pid.
  });
  return {
    matches,
    format: (line) => {
      const record = recordOf(line);
      if (record === null) return `${line}\n`;
      const { entity: name, rel, ...rest } = record;
      // -t relative: seconds since the HAM started.
      if (typeof rel === "number" && rest["time"] === undefined) rest["time"] = `+${rel.toFixed(3)}s`;
      if (typeof name === "string" && name !== "") rest["name"] = name;
      return pretty(rest);
    },
  };
}

function recordOf(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function openOrNull(file: string): number | null {
  try {
    return openSync(file, "r");
  } catch {
    return null;
  }
}

function statOrNull(file: string): { ino: number } | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
