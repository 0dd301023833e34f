import type { Index } from "../collections.js";

// Checkpoints (AIS CKPT, a "replication repertory"): named sets of sections whose bytes the HAM
// keeps in its shared state, so a standby reads what an active wrote, even after the active
// died and the Guardian took over. The requests are in checkpoints.ts.

export interface CheckpointLimits {
  readonly maxSections: number;
  readonly maxSectionBytes: number;
  // All sections' bytes together.
  readonly maxBytes: number;
}

export interface Section {
  // The bytes as base64: what a request carries and a record keeps, never decoded again.
  readonly data: string;
  readonly size: number;
  readonly writtenMs: number;
}

export interface Checkpoint {
  readonly name: string;
  // Tells a handle on an unlinked checkpoint from one on a new checkpoint of the same name.
  readonly id: number;
  readonly createdMs: number;
  readonly limits: CheckpointLimits;
  // The sections' sizes added up.
  readonly bytes: number;
  // A persistent Map: a write copies a few nodes, never the other sections.
  readonly sections: Index<Section>;
}

// Record keys (lib/store/format.ts): a checkpoint's header and each section on its own, so a
// write journals only the section it wrote. Names have no "/" (lib/names.ts).
export const checkpointKey = (name: string): string => `k/${name}`;
export const sectionKey = (checkpoint: string, section: string): string => `s/${checkpoint}/${section}`;

// The byte count of canonical base64 (what Buffer.toString("base64") writes), without decoding.
export function base64Size(data: string): number {
  const padding = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}
