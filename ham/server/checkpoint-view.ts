import { HamError } from "../../lib/errors.js";
import type { DirEntry, Node } from "../../lib/tree/node.js";
import type { Checkpoint } from "../core/checkpoints/checkpoint-data.js";
import type { Index } from "../core/collections.js";
import { formatStamp } from "./render.js";

// Checkpoints in the /ham view: `.checkpoints/<name>/.info` (its sections, bytes and limits),
// the directory shown only while the HAM holds a checkpoint. The bytes themselves are not
// files: they are binary, and read with ckpt_read.

export const CHECKPOINTS_DIR = ".checkpoints";
const INFO = ".info";

export function renderCheckpointInfo(checkpoint: Checkpoint): string {
  let lastWrite: number | null = null;
  for (const section of checkpoint.sections.values()) lastWrite = Math.max(lastWrite ?? 0, section.writtenMs);
  const rows: Array<readonly [string, string | number]> = [
    ["Checkpoint", checkpoint.name],
    ["Created", formatStamp(checkpoint.createdMs)],
    ["Num Sections", checkpoint.sections.size],
    ["Bytes", checkpoint.bytes],
    ["Max Sections", checkpoint.limits.maxSections],
    ["Max Section Size", checkpoint.limits.maxSectionBytes],
    ["Max Bytes", checkpoint.limits.maxBytes],
  ];
  if (lastWrite !== null) rows.push(["Last Write", formatStamp(lastWrite)]);
  return rows.map(([label, value]) => `${label.padEnd(16)}: ${value}\n`).join("");
}

const infoEntry = (checkpoint: Checkpoint): DirEntry => ({ name: INFO, type: "file", size: Buffer.byteLength(renderCheckpointInfo(checkpoint)) });

// `parts`: the path below `.checkpoints`.
export function resolveCheckpointPath(checkpoints: Index<Checkpoint>, parts: readonly string[]): Node {
  const [name, file, extra] = parts;
  if (name === undefined) return { type: "dir", entries: [...checkpoints.keys()].sort().map((entry) => ({ name: entry, type: "dir", size: 0 })) };
  const checkpoint = checkpoints.get(name);
  if (checkpoint === undefined || extra !== undefined || (file !== undefined && file !== INFO)) {
    throw new HamError("ENOENT", `no such item: /${[CHECKPOINTS_DIR, ...parts].join("/")}`);
  }
  return file === undefined ? { type: "dir", entries: [infoEntry(checkpoint)] } : { type: "file", content: renderCheckpointInfo(checkpoint) };
}
