import { closeSync, copyFileSync, mkdirSync, openSync, renameSync, rmSync, statSync, truncateSync, constants } from "node:fs";
import { dirname } from "node:path";
import { outputFilesOf } from "../../lib/run-dir.js";
import type { OutputLimits } from "../../lib/tree/types.js";

// Each entity's stdout and stderr, in files of its own: RUN_DIR/output/<entity>.out and .err.
// The process writes to the file itself (opened O_APPEND and handed to it as fd 1 and 2), so
// nothing of it goes through the HAM: a HAM that dies leaves no process blocked on a full pipe
// or killed by SIGPIPE, and the HAM that takes over finds the same files. Rotation is by copy
// and truncate (the process keeps its descriptor): when a file passes maxBytes it is copied to
// .1 (the older ones shift to .2 ...), then emptied. A line written between the copy and the
// truncate is lost: logrotate's copytruncate has the same window.

export const DEFAULT_OUTPUT: OutputLimits = Object.freeze({ maxBytes: 10 * 1024 * 1024, files: 3 });



// Opens an entity's two files for a process about to start; the caller closes them once the
// process has them.
export function openOutput(runDir: string, entity: string): { out: number; err: number } {
  const files = outputFilesOf(runDir, entity);
  mkdirSync(dirname(files.out), { recursive: true, mode: 0o700 });
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  const out = openSync(files.out, flags, 0o600);
  try {
    return { out, err: openSync(files.err, flags, 0o600) };
  } catch (error) {
    closeSync(out);
    throw error;
  }
}

export function closeOutput(fds: { out: number; err: number }): void {
  for (const fd of [fds.out, fds.err]) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

// Keeps `path` under limits.maxBytes with limits.files files in all; true when it rotated.
export function rotateIfFull(path: string, limits: OutputLimits): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size <= limits.maxBytes) return false;
  if (limits.files <= 1) {
    truncateSync(path, 0);
    return true;
  }
  rmSync(`${path}.${limits.files - 1}`, { force: true });
  for (let index = limits.files - 2; index >= 1; index -= 1) {
    try {
      renameSync(`${path}.${index}`, `${path}.${index + 1}`);
    } catch {
      // not there yet
    }
  }
  copyFileSync(path, `${path}.1`);
  truncateSync(path, 0);
  return true;
}

// Looks at every entity's files in turn, at most `perTick` entities a tick: with 50 entities
// each is looked at every tick (1 s); with 10,000, every 20 s at 500 stats a second.
export class OutputRotator {
  private timer: NodeJS.Timeout | null = null;
  private cursor = 0;

  constructor(
    private readonly runDir: string,
    // The entities with output files now, and their limits (null: the defaults).
    private readonly entities: () => ReadonlyArray<readonly [string, OutputLimits | null]>,
    private readonly onError: (error: unknown) => void,
    private readonly tickMs = 1_000,
    private readonly perTick = 500,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  tick(): void {
    const all = this.entities();
    const count = Math.min(all.length, this.perTick);
    for (let step = 0; step < count; step += 1) {
      const [entity, limits] = all[(this.cursor + step) % all.length] ?? ["", null];
      const files = outputFilesOf(this.runDir, entity);
      for (const path of [files.out, files.err]) {
        try {
          rotateIfFull(path, limits ?? DEFAULT_OUTPUT);
        } catch (error) {
          this.onError(error);
        }
      }
    }
    this.cursor = all.length === 0 ? 0 : (this.cursor + count) % all.length;
  }
}
