import {
  CKPT_DEFAULT_BYTES, CKPT_DEFAULT_SECTION_BYTES, CKPT_DEFAULT_SECTIONS, CKPT_HAM_BYTES, CKPT_LIMIT_BYTES, CKPT_LIMIT_SECTION_BYTES,
  CKPT_LIMIT_SECTIONS,
} from "../../../lib/checkpoint-limits.js";
import { HamError } from "../../../lib/errors.js";
import { emptyIndex } from "../collections.js";
import type { Checkpoint, CheckpointLimits } from "./checkpoint-data.js";
import { LOG_LEVEL } from "../describe.js";
import type { Args, Request } from "../specs.js";
import type { Tx } from "../tx.js";

// The checkpoint requests (ckpt_* in lib/client/checkpoints.ts). A handle names a checkpoint
// by name and id; one whose checkpoint was unlinked (or unlinked and made again) is EIDRM
// (as a removed message queue). Never EBADF from here: to a client that means "connection
// lost", and its session would reconnect and retry (lib/cover/recovery.ts).
// Every check comes before the change: a write over a limit leaves the old bytes in place.

const LIMITS: ReadonlyArray<readonly [keyof CheckpointLimits, number, number]> = [
  ["maxSections", CKPT_DEFAULT_SECTIONS, CKPT_LIMIT_SECTIONS],
  ["maxSectionBytes", CKPT_DEFAULT_SECTION_BYTES, CKPT_LIMIT_SECTION_BYTES],
  ["maxBytes", CKPT_DEFAULT_BYTES, CKPT_LIMIT_BYTES],
];

// The limits a request asks for: only those it names (the others are absent).
export function askedLimits(raw: unknown): Partial<CheckpointLimits> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new HamError("EINVAL", "checkpoint limits must be an object");
  const asked: Partial<Record<keyof CheckpointLimits, number>> = {};
  for (const [field, , most] of LIMITS) {
    const value = (raw as Record<string, unknown>)[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > most) {
      throw new HamError("EINVAL", `${field} must be an integer from 1 to ${most}`);
    }
    asked[field] = value;
  }
  return asked;
}

export function withDefaults(asked: Partial<CheckpointLimits>): CheckpointLimits {
  const [sections, sectionBytes, bytes] = LIMITS.map(([field, fallback]) => asked[field] ?? fallback) as [number, number, number];
  return { maxSections: sections, maxSectionBytes: sectionBytes, maxBytes: bytes };
}

// What ckpt_open answers: the handle's identity and the limits the checkpoint has.
function opened(checkpoint: Checkpoint, created: boolean): unknown {
  return { name: checkpoint.name, id: checkpoint.id, limits: checkpoint.limits, created };
}

// An existing checkpoint keeps its limits; asking for other ones is EEXIST (AIS: ERR_EXIST),
// so no writer counts on room the checkpoint does not have. Limits not asked for are not compared.
export function checkSameLimits(name: string, limits: CheckpointLimits, asked: Partial<CheckpointLimits>): void {
  for (const [field, value] of Object.entries(asked) as Array<[keyof CheckpointLimits, number]>) {
    if (limits[field] !== value) throw new HamError("EEXIST", `checkpoint ${name} exists with ${field} ${limits[field]}, not ${value}`);
  }
}

function open(tx: Tx, { args }: Request): unknown {
  const name = args.name("name", "checkpoint");
  const asked = askedLimits(args.raw("limits"));
  const existing = tx.checkpoints.get(name);
  if (existing !== undefined) {
    checkSameLimits(name, existing.limits, asked);
    return opened(existing, false);
  }
  const checkpoint: Checkpoint = {
    name, id: tx.nextOrder(), createdMs: tx.at.wall, limits: withDefaults(asked), bytes: 0, sections: emptyIndex(),
  };
  tx.setCheckpoint(checkpoint);
  // The id counter goes into the HAM-wide record now: after an unlink and a takeover, no record
  // may be left to tell a new HAM this id was given (a stale handle must get EIDRM).
  tx.setMeta({});
  tx.log(LOG_LEVEL.detail, "info", { event: "checkpoint-created", checkpoint: name }, `checkpoint ${name} created`);
  return opened(checkpoint, true);
}

function target(tx: Tx, args: Args): Checkpoint {
  const name = args.name("name", "checkpoint");
  const id = args.int("id");
  const checkpoint = tx.checkpoints.get(name);
  if (checkpoint === undefined || checkpoint.id !== id) throw new HamError("EIDRM", `checkpoint ${name} was unlinked`);
  return checkpoint;
}

// Bytes arrive as canonical base64 (what Buffer.toString("base64") writes): kept as they came.
export function decodedSize(data: string): number {
  const bytes = Buffer.from(data, "base64");
  if (bytes.toString("base64") !== data) throw new HamError("EINVAL", "section data must be canonical base64");
  return bytes.length;
}

function write(tx: Tx, { args }: Request): unknown {
  const checkpoint = target(tx, args);
  const section = args.name("section", "section");
  const data = args.string("data");
  const size = decodedSize(data);
  const bytes = bytesAfterWrite(checkpoint, checkpoint.sections.size, checkpoint.sections.get(section)?.size ?? null, size);
  let all = bytes - checkpoint.bytes;
  for (const other of tx.checkpoints.values()) all += other.bytes;
  if (all > CKPT_HAM_BYTES) throw new HamError("ENOSPC", `the HAM's checkpoints would hold ${all} bytes, over ${CKPT_HAM_BYTES}`);
  const sections = checkpoint.sections.set(section, { data, size, writtenMs: tx.at.wall });
  tx.setCheckpoint({ ...checkpoint, bytes, sections }, section);
  return 0;
}

// The checkpoint's bytes once a section of `size` bytes replaces one of `previous` bytes (null: a
// new section), or E2BIG / ENOSPC over a limit. Also for checkpoints across nodes (their sizes
// are in a header: server/cluster-checkpoints.ts).
export function bytesAfterWrite(checkpoint: { readonly name: string; readonly limits: CheckpointLimits; readonly bytes: number }, sections: number, previous: number | null, size: number): number {
  const { maxSectionBytes, maxSections, maxBytes } = checkpoint.limits;
  if (size > maxSectionBytes) throw new HamError("E2BIG", `section of ${size} bytes exceeds ${maxSectionBytes}`);
  if (previous === null && sections >= maxSections) throw new HamError("ENOSPC", `checkpoint ${checkpoint.name} has its ${maxSections} sections`);
  const bytes = checkpoint.bytes - (previous ?? 0) + size;
  if (bytes > maxBytes) throw new HamError("ENOSPC", `checkpoint ${checkpoint.name} would hold ${bytes} bytes, over ${maxBytes}`);
  return bytes;
}

function read(tx: Tx, { args }: Request): unknown {
  const checkpoint = target(tx, args);
  const section = args.name("section", "section");
  const found = checkpoint.sections.get(section);
  if (found === undefined) throw new HamError("ENOENT", `no section ${section} in checkpoint ${checkpoint.name}`);
  return found.data;
}

function remove(tx: Tx, { args }: Request): unknown {
  const checkpoint = target(tx, args);
  const section = args.name("section", "section");
  const found = checkpoint.sections.get(section);
  if (found === undefined) throw new HamError("ENOENT", `no section ${section} in checkpoint ${checkpoint.name}`);
  tx.setCheckpoint({ ...checkpoint, bytes: checkpoint.bytes - found.size, sections: checkpoint.sections.delete(section) }, section);
  return 0;
}

function list(tx: Tx, { args }: Request): unknown {
  const checkpoint = target(tx, args);
  const sections = [...checkpoint.sections].map(([name, { size, writtenMs }]) => ({ name, size, writtenMs }));
  sections.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { sections, bytes: checkpoint.bytes, limits: checkpoint.limits };
}

function unlink(tx: Tx, { args }: Request): unknown {
  const name = args.name("name", "checkpoint");
  if (!tx.checkpoints.has(name)) throw new HamError("ENOENT", `no checkpoint ${name}`);
  tx.removeCheckpoint(name);
  tx.log(LOG_LEVEL.detail, "info", { event: "checkpoint-unlinked", checkpoint: name }, `checkpoint ${name} unlinked`);
  return 0;
}

export const CHECKPOINT_REQUESTS = {
  ckpt_open: open, ckpt_write: write, ckpt_read: read, ckpt_delete: remove, ckpt_sections: list, ckpt_unlink: unlink,
} as const;

// Requests that change nothing: never journaled, and their replies (a whole section) never kept.
export const CHECKPOINT_READS: ReadonlySet<string> = new Set(["ckpt_read", "ckpt_sections"]);
