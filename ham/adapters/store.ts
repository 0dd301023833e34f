import {
  closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  decodeFile, decodeHeader, decodeRecords, encodeHeader, encodeRecord, HEADER_BYTES, StateMap, type Change,
} from "../../lib/store/format.js";

export { stateDirOf } from "../../lib/run-dir.js";

// The HAM's state on shared memory: `snapshot.<g>` + `journal.<g>`, `journal.<g+1>`, ...
// in one directory under /dev/shm named from the run directory (layout: lib/store/format.ts).
// The state is snapshot <G> (the newest) followed by every journal numbered G or more.
// Compaction starts journal <G+1>, writes snapshot <G+1> a few keys per turn of the event
// loop, renames it into place and deletes what it replaced.

const numbered = (dir: string, prefix: string): number[] =>
  readdirSync(dir).filter((name) => name.startsWith(`${prefix}.`) && /^\d+$/.test(name.slice(prefix.length + 1)))
    .map((name) => Number(name.slice(prefix.length + 1))).sort((a, b) => a - b);

// Follows the files as they grow: the Guardian calls refresh() whenever they change, so
// that taking over only reads the last few records. A new snapshot means reading again.
export class StoreReader {
  private snapshotGeneration = -1;
  private state = new StateMap();
  private readonly offsets = new Map<number, number>();
  torn: string | null = null;

  constructor(readonly dir: string) {}

  exists(): boolean {
    return existsSync(this.dir) && (numbered(this.dir, "snapshot").length > 0 || numbered(this.dir, "journal").length > 0);
  }

  refresh(): StateMap {
    if (!existsSync(this.dir)) return this.state;
    const snapshots = numbered(this.dir, "snapshot");
    const newest = snapshots.at(-1) ?? 0;
    if (newest !== this.snapshotGeneration) {
      this.state = new StateMap();
      this.offsets.clear();
      this.snapshotGeneration = newest;
      if (snapshots.length > 0) {
        for (const change of decodeFile(readFileSync(join(this.dir, `snapshot.${newest}`))).changes) this.state.apply(change);
      }
    }
    for (const generation of numbered(this.dir, "journal")) {
      if (generation < newest) continue;
      this.readJournal(generation);
    }
    return this.state;
  }

  // Where journal <g>'s valid records end (a writer continues there).
  validBytes(generation: number): number {
    return this.offsets.get(generation) ?? HEADER_BYTES;
  }

  // Reads only what was appended since the last read (from the end of the last whole record).
  private readJournal(generation: number): void {
    let fd: number;
    try {
      fd = openSync(join(this.dir, `journal.${generation}`), "r");
    } catch {
      return; // removed by a compaction meanwhile
    }
    try {
      let offset = this.offsets.get(generation);
      if (offset === undefined) {
        const header = Buffer.alloc(HEADER_BYTES);
        if (readSync(fd, header, 0, HEADER_BYTES, 0) < HEADER_BYTES) return;
        decodeHeader(header);
        offset = HEADER_BYTES;
      }
      const size = fstatSync(fd).size;
      if (size <= offset) {
        this.offsets.set(generation, Math.min(offset, size));
        return;
      }
      const data = Buffer.alloc(size - offset);
      const read = readSync(fd, data, 0, data.length, offset);
      const decoded = decodeRecords(data.subarray(0, read), 0);
      for (const change of decoded.changes) this.state.apply(change);
      this.offsets.set(generation, offset + decoded.validBytes);
      this.torn = decoded.torn;
    } finally {
      closeSync(fd);
    }
  }
}

// A step writes at least 16 keys, unless they are large: 16 checkpoint sections of 1 MiB made
// one step of 34 to 105 ms; this many bytes (one 1 MiB section and its record) take ~5.
const STEP_BYTES = 256 * 1024;

export interface CompactionStats {
  readonly keys: number;
  readonly bytes: number;
  readonly wallMs: number;
  readonly longestStepMs: number;
}

export class StateStore {
  private fd = -1;
  private generation = 0;
  private seq = 0;
  private compacting = false;
  journalBytes = 0;
  // Size of the last snapshot written: compacting again only once the journal is twice that
  // keeps the cost of compaction proportional to what was appended.
  snapshotBytes = 0;

  constructor(readonly dir: string) {}

  // Opens for writing after `reader` has read everything: appends to its newest journal
  // (cut back to its last valid record), or starts generation 0 on an empty directory.
  open(reader: StoreReader | null): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const journals = existsSync(this.dir) ? numbered(this.dir, "journal") : [];
    const newest = journals.at(-1);
    if (reader !== null && newest !== undefined) {
      this.seq = reader.refresh().maxSeq;
      this.generation = newest;
      const path = join(this.dir, `journal.${newest}`);
      const valid = reader.validBytes(newest);
      this.fd = openSync(path, "r+");
      ftruncateSync(this.fd, valid);
      closeSync(this.fd);
      this.fd = openSync(path, "a", 0o600);
      this.journalBytes = valid;
      return;
    }
    this.generation = Math.max(0, ...numbered(this.dir, "snapshot"));
    this.startJournal(this.generation);
  }

  private startJournal(generation: number): void {
    const fd = openSync(join(this.dir, `journal.${generation}`), "w", 0o600);
    writeSync(fd, encodeHeader(generation));
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = fd;
    this.journalBytes = HEADER_BYTES;
  }

  // Appends one change; it is in shared memory when this returns.
  commit(set: Record<string, unknown> | undefined, del: readonly string[] | undefined): number {
    if (this.fd < 0) return this.seq; // closed: the HAM is stopping
    const q = ++this.seq;
    const change: Change = { q, ...(set === undefined ? {} : { set }), ...(del === undefined ? {} : { del }) };
    const record = encodeRecord(change);
    writeSync(this.fd, record);
    this.journalBytes += record.length;
    return q;
  }

  get busy(): boolean {
    return this.compacting;
  }

  // Writes a new snapshot from `entries` (called again for each chunk of keys, so it sees the
  // state as it is then), in steps that each take about `stepMs`, then drops what it replaces.
  async compact(keys: () => string[], valueOf: (key: string) => unknown, stepMs = 2): Promise<CompactionStats> {
    if (this.compacting) throw new Error("compaction already running");
    this.compacting = true;
    const started = performance.now();
    let longest = 0;
    const next = this.generation + 1;
    const tmp = join(this.dir, `snapshot.${next}.tmp`);
    let bytes = 0;
    let count = 0;
    try {
      this.startJournal(next);
      const old = this.generation;
      this.generation = next;
      const out = openSync(tmp, "w", 0o600);
      try {
        writeSync(out, encodeHeader(next));
        const all = keys();
        let i = 0;
        while (i < all.length) {
          const stepStart = performance.now();
          let inStep = 0;
          let stepBytes = 0;
          // Each key carries the seq as of now: a journal record about it is newer, or older and skipped.
          while (i < all.length && ((inStep < 16 && stepBytes < STEP_BYTES) || performance.now() - stepStart < stepMs)) {
            const key = all[i++] as string;
            const value = valueOf(key);
            if (value === undefined) continue;
            const record = encodeRecord({ q: this.seq, set: { [key]: value } });
            writeSync(out, record);
            bytes += record.length;
            stepBytes += record.length;
            count += 1;
            inStep += 1;
          }
          longest = Math.max(longest, performance.now() - stepStart);
          if (i < all.length) await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        closeSync(out);
      }
      renameSync(tmp, join(this.dir, `snapshot.${next}`));
      for (const generation of numbered(this.dir, "snapshot")) if (generation < next) rmSync(join(this.dir, `snapshot.${generation}`), { force: true });
      for (const generation of numbered(this.dir, "journal")) if (generation <= old) rmSync(join(this.dir, `journal.${generation}`), { force: true });
    } finally {
      rmSync(tmp, { force: true });
      this.compacting = false;
    }
    this.snapshotBytes = bytes;
    return { keys: count, bytes, wallMs: performance.now() - started, longestStepMs: longest };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  // ham_stop: the state goes with the HAM.
  remove(): void {
    this.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
