import { crc32 } from "node:zlib";

// The HAM's state files (snapshot and journal share one layout), version 1.
//
//   file = header, then records, back to back
//
//   header, 16 bytes
//   0        4        8                16
//   +--------+--------+----------------+
//   | "HAMS" | version| generation     |
//   | ASCII  | u32 BE | u64 BE         |
//   +--------+--------+----------------+
//
//   record, 8 + length bytes
//   0        4        8                8+length
//   +--------+--------+----------------+
//   | length | crc32  | JSON, UTF-8    |
//   | u32 BE | u32 BE | one Change     |
//   +--------+--------+----------------+
//
// crc32 covers the JSON bytes. A record whose length runs past the end of the file, or
// whose checksum does not match, ends the readable part: it and anything after it are
// ignored (a torn tail is a write the HAM died in), never half-applied.
//
// A Change is one atomic step: {"q": seq, "set": {key: value}, "del": [key], "reply": ...}.
// Keys name one piece of state ("e/<entity>", "f/<firing id>", "m" for HAM-wide facts,
// "r/<client token>" for replies already sent); a value replaces the whole piece.
// A snapshot holds one Change per key. Each key remembers the seq of its last change, and
// a change not newer than what a key already holds is skipped, so a snapshot written while the
// journal moved on can be followed by that journal in any overlap.

export const STORE_MAGIC = "HAMS";
export const STORE_VERSION = 1;
export const HEADER_BYTES = 16;
const RECORD_HEADER_BYTES = 8;

export interface Change {
  readonly q: number;
  readonly set?: Record<string, unknown>;
  readonly del?: readonly string[];
}

export function encodeHeader(generation: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(STORE_MAGIC, 0, "latin1");
  header.writeUInt32BE(STORE_VERSION, 4);
  header.writeBigUInt64BE(BigInt(generation), 8);
  return header;
}

export function encodeRecord(change: Change): Buffer {
  const body = Buffer.from(JSON.stringify(change), "utf8");
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  record.writeUInt32BE(body.length, 0);
  record.writeUInt32BE(crc32(body), 4);
  body.copy(record, RECORD_HEADER_BYTES);
  return record;
}

export interface DecodedFile {
  readonly generation: number;
  readonly changes: Change[];
  // Bytes of whole, valid records (header included): where the next append belongs.
  readonly validBytes: number;
  // Why reading stopped before the end, if it did.
  readonly torn: string | null;
}

export class StoreFormatError extends Error {}

export function decodeHeader(data: Buffer): number {
  if (data.length < HEADER_BYTES || data.toString("latin1", 0, 4) !== STORE_MAGIC) {
    throw new StoreFormatError("not a hamd state file");
  }
  const version = data.readUInt32BE(4);
  if (version !== STORE_VERSION) throw new StoreFormatError(`state file version ${version}, this hamd reads ${STORE_VERSION}`);
  return Number(data.readBigUInt64BE(8));
}

// Decodes records from `offset` on (the header must have been checked).
export function decodeRecords(data: Buffer, offset: number): { changes: Change[]; validBytes: number; torn: string | null } {
  const changes: Change[] = [];
  let at = offset;
  while (at < data.length) {
    if (data.length - at < RECORD_HEADER_BYTES) return { changes, validBytes: at, torn: "partial record header" };
    const length = data.readUInt32BE(at);
    const sum = data.readUInt32BE(at + 4);
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > data.length) return { changes, validBytes: at, torn: "record runs past the end" };
    const body = data.subarray(at + RECORD_HEADER_BYTES, end);
    if (crc32(body) !== sum) return { changes, validBytes: at, torn: "checksum mismatch" };
    let change: Change;
    try {
      change = JSON.parse(body.toString("utf8")) as Change;
    } catch {
      return { changes, validBytes: at, torn: "record is not JSON" };
    }
    changes.push(change);
    at = end;
  }
  return { changes, validBytes: at, torn: null };
}

export function decodeFile(data: Buffer): DecodedFile {
  const generation = decodeHeader(data);
  return { generation, ...decodeRecords(data, HEADER_BYTES) };
}

// Key → value with the seq of the change that set it; applying is idempotent and ordered.
export class StateMap {
  readonly values = new Map<string, unknown>();
  readonly seqs = new Map<string, number>();
  maxSeq = 0;

  apply(change: Change): void {
    const q = change.q;
    if (q > this.maxSeq) this.maxSeq = q;
    for (const [key, value] of Object.entries(change.set ?? {})) {
      if ((this.seqs.get(key) ?? -1) >= q) continue;
      this.values.set(key, value);
      this.seqs.set(key, q);
    }
    for (const key of change.del ?? []) {
      if ((this.seqs.get(key) ?? -1) >= q) continue;
      this.values.delete(key);
      this.seqs.set(key, q);
    }
  }
}
