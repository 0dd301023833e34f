import { base64Size, checkpointKey, sectionKey, type Checkpoint, type CheckpointLimits, type Section } from "../core/checkpoints/checkpoint-data.js";
import { emptyIndex, indexOf, type Index } from "../core/collections.js";
import type { HamState } from "../core/state.js";

// Checkpoints in the shared state: "k/<checkpoint>" its header (id, limits), and
// "s/<checkpoint>/<section>" each section's bytes, so a write journals one section only
// (64 KB written = one record of 87 KB, whatever else the checkpoint holds).

export interface CheckpointValue extends CheckpointLimits {
  readonly name: string;
  readonly id: number;
  readonly createdMs: number;
}

export interface SectionValue {
  // base64, as kept in the state (checkpoint-data.ts).
  readonly data: string;
  readonly writtenMs: number;
}

export function checkpointKeys(state: HamState): string[] {
  const keys: string[] = [];
  for (const checkpoint of state.checkpoints.values()) {
    keys.push(checkpointKey(checkpoint.name));
    for (const section of checkpoint.sections.keys()) keys.push(sectionKey(checkpoint.name, section));
  }
  return keys;
}

// The record of a "k/" or "s/" key; undefined when the state has none (a delete record).
export function checkpointRecordOf(state: HamState, key: string): CheckpointValue | SectionValue | undefined {
  if (key.startsWith("k/")) {
    const checkpoint = state.checkpoints.get(key.slice(2));
    if (checkpoint === undefined) return undefined;
    return { name: checkpoint.name, id: checkpoint.id, createdMs: checkpoint.createdMs, ...checkpoint.limits };
  }
  const slash = key.indexOf("/", 2);
  const section = state.checkpoints.get(key.slice(2, slash))?.sections.get(key.slice(slash + 1));
  return section === undefined ? undefined : { data: section.data, writtenMs: section.writtenMs };
}

export const isCheckpointKey = (key: string): boolean => key.startsWith("k/") || key.startsWith("s/");

// Checkpoints from checked records. A section whose header is missing (a record skipped) is
// dropped with it. `nextId`: above every id read back (a new checkpoint's id is never an old one's).
export function restoreCheckpoints(
  headers: readonly CheckpointValue[], sections: ReadonlyArray<readonly [string, string, SectionValue]>,
): { checkpoints: Index<Checkpoint>; nextId: number } {
  const byName = new Map<string, Map<string, Section>>();
  for (const [checkpoint, name, value] of sections) {
    let map = byName.get(checkpoint);
    if (map === undefined) byName.set(checkpoint, (map = new Map()));
    map.set(name, { data: value.data, size: base64Size(value.data), writtenMs: value.writtenMs });
  }
  let nextId = 1;
  const checkpoints = headers.map((header): readonly [string, Checkpoint] => {
    const found = byName.get(header.name) ?? new Map<string, Section>();
    let bytes = 0;
    for (const section of found.values()) bytes += section.size;
    nextId = Math.max(nextId, header.id + 1);
    const limits = { maxSections: header.maxSections, maxSectionBytes: header.maxSectionBytes, maxBytes: header.maxBytes };
    return [header.name, { name: header.name, id: header.id, createdMs: header.createdMs, limits, bytes, sections: indexOf(found) }];
  });
  return { checkpoints: checkpoints.length === 0 ? emptyIndex() : indexOf(checkpoints), nextId };
}
