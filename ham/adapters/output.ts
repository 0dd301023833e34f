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
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  let out: number;
  try {
    out = openSync(files.out, flags, 0o600);
  } catch (error) {
    // The first spawn of this run directory (or its output directory was removed).
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(files.out), { recursive: true, mode: 0o700 });
    out = openSync(files.out, flags, 0o600);
  }
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

// Looks at the files of the entities whose processes write them (told by `watch`: the HAM's
// spawns, and at a start or takeover every entity with a command), at most `perTick` entities a
// tick: with 50 each is looked at every tick (1 s); with 10,000, every 20 s at 500 stats a
// second. No entity with output, no timer. An entity gone from the HAM is dropped.
export class OutputRotator {
  private timer: NodeJS.Timeout | null = null;
  private cursor = 0;
  private names: string[] = [];
  private readonly known = new Set<string>();

  constructor(
    private readonly runDir: string,
    // The entity's limits (null: the defaults); undefined once it is gone.
    private readonly limitsOf: (entity: string) => OutputLimits | null | undefined,
    private readonly onError: (error: unknown) => void,
    private readonly tickMs = 1_000,
    private readonly perTick = 500,
  ) {}

  watch(entity: string): void {
    if (this.known.has(entity)) return;
    this.known.add(entity);
    this.names.push(entity);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  tick(): void {
    const count = Math.min(this.names.length, this.perTick);
    const gone = new Set<string>();
    for (let step = 0; step < count; step += 1) {
      const entity = this.names[(this.cursor + step) % this.names.length] ?? "";
      const limits = this.limitsOf(entity);
      if (limits === undefined) {
        gone.add(entity);
        continue;
      }
      const files = outputFilesOf(this.runDir, entity);
      for (const path of [files.out, files.err]) {
        try {
          rotateIfFull(path, limits ?? DEFAULT_OUTPUT);
        } catch (error) {
          this.onError(error);
        }
      }
    }
    this.cursor = this.names.length === 0 ? 0 : (this.cursor + count) % this.names.length;
    if (gone.size === 0) return;
    for (const entity of gone) this.known.delete(entity);
    this.names = this.names.filter((entity) => !gone.has(entity));
    this.cursor = 0;
  }
}
