import { CKPT_LIMIT_BYTES, CKPT_LIMIT_SECTION_BYTES, CKPT_LIMIT_SECTIONS } from "../checkpoint-limits.js";
import { HamError } from "../errors.js";
import { checkName } from "../names.js";
import { requestAuto } from "./handles.js";
import { placeOfNode, releaseIfUnused, requestAt, sessionFor, type Place, type Session } from "./session.js";

// Checkpoints (beyond QNX: AIS CKPT): named sections of bytes the HAM keeps in its shared
// state. A handle holds the process's connection to the HAM (as ham_connect does) until
// ckpt_close; closing it never removes the data (ckpt_unlink does), so a standby reads what
// an active wrote after the active died, and after a takeover of the HAM.

export interface CheckpointLimits {
  readonly maxSections: number;
  readonly maxSectionBytes: number;
  // All sections' bytes together.
  readonly maxBytes: number;
}

// Limits for a new checkpoint (lib/checkpoint-limits.ts has the defaults). An existing one
// keeps its own: asking for different ones is EEXIST; those not given are not compared.
// `group`: a checkpoint of a service group across nodes (members NAME@NODE), kept in etcd, so
// the standby's node reads it after the active's node is gone; only the node that holds the
// group's election writes it (others: EPERM). Its sections are at most 1 MiB.
export interface CheckpointOptions extends Partial<CheckpointLimits> {
  readonly group?: string;
}

// ckpt_unlink's: the group of a checkpoint across nodes.
export interface CheckpointUnlinkOptions {
  readonly group?: string;
}

export interface ckpt_handle_t {
  readonly kind: "checkpoint";
  readonly runDir: string;
  // The node whose HAM keeps the checkpoint (null: the HAM of runDir itself).
  readonly node: string | null;
  readonly name: string;
  // The cross-node group whose checkpoint it is (null: one the HAM keeps in its shared state).
  readonly group: string | null;
  // Which checkpoint of that name: calls on one unlinked (even if made again) are EIDRM.
  readonly id: number;
  readonly limits: CheckpointLimits;
  closed: boolean;
}

export interface CheckpointSection {
  readonly name: string;
  readonly size: number;
  // When it was last written (wall ms).
  readonly writtenMs: number;
}

// The connection each open handle holds (kept off the handle: it stays plain data).
const sessions = new WeakMap<ckpt_handle_t, Session>();

function openHandle(handle: unknown): ckpt_handle_t {
  const candidate = handle as ckpt_handle_t | null;
  if (typeof candidate !== "object" || candidate === null || candidate.kind !== "checkpoint") throw new HamError("EBADF", "not a checkpoint handle");
  if (candidate.closed) throw new HamError("EBADF", `checkpoint handle on ${candidate.name} is closed`);
  return candidate;
}

// Calls on a handle reject (never throw) like every other call.
async function onHandle(handle: ckpt_handle_t, op: string, args: Record<string, unknown>): Promise<unknown> {
  const open = openHandle(handle);
  const session = sessions.get(open);
  if (session === undefined || session.closed) throw new HamError("EBADF", "connection to the HAM lost");
  return requestAt(session, open, op, { name: open.name, id: open.id, ...(open.group === null ? {} : { group: open.group }), ...args });
}

function bufferOf(bytes: Uint8Array | string): Buffer {
  if (typeof bytes === "string") return Buffer.from(bytes, "utf8");
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new HamError("EINVAL", "section bytes must be a Buffer, a Uint8Array or a string");
}

// The limits in ckpt_open's reply; a reply without them (none is known) gets the most any
// checkpoint may have, so the client's own E2BIG check below stays a floor, never too strict.
function limitsOf(raw: unknown): CheckpointLimits {
  const given = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const field = (key: keyof CheckpointLimits, most: number): number => {
    const value = given[key];
    return typeof value === "number" && Number.isSafeInteger(value) && value >= 1 ? value : most;
  };
  return {
    maxSections: field("maxSections", CKPT_LIMIT_SECTIONS),
    maxSectionBytes: field("maxSectionBytes", CKPT_LIMIT_SECTION_BYTES),
    maxBytes: field("maxBytes", CKPT_LIMIT_BYTES),
  };
}

function groupOf(options: CheckpointUnlinkOptions | undefined): string | null {
  const group = options?.group;
  if (group === undefined || group === null) return null;
  return checkName(group, "group");
}

async function open(place: Place, name: string, options: CheckpointOptions): Promise<ckpt_handle_t> {
  checkName(name, "checkpoint");
  const group = groupOf(options);
  const { group: _group, ...limits } = options;
  const session = await sessionFor(place.runDir);
  session.holds += 1;
  try {
    const reply = (await requestAt(session, place, "ckpt_open", { name, limits, ...(group === null ? {} : { group }) })) as { id: number; limits?: unknown };
    const handle: ckpt_handle_t = { kind: "checkpoint", runDir: place.runDir, node: place.node, name, group, id: reply.id, limits: limitsOf(reply.limits), closed: false };
    sessions.set(handle, session);
    return handle;
  } catch (error) {
    session.holds -= 1;
    releaseIfUnused(session);
    throw error;
  }
}

// Opens the checkpoint `name` of the HAM (resolveRunDir()), making it when it does not exist.
export function ckpt_open(name: string, options: CheckpointOptions = {}): Promise<ckpt_handle_t> {
  return Promise.resolve().then(() => open(placeOfNode(null), name, options));
}

// The same on the HAM of a node: the path of its run directory (as ham_*_node).
export function ckpt_open_node(name: string, nodename: string | null, options: CheckpointOptions = {}): Promise<ckpt_handle_t> {
  return Promise.resolve().then(() => open(placeOfNode(nodename), name, options));
}

// Replaces a section's bytes (a string is written as UTF-8). Over a limit (E2BIG: the section,
// ENOSPC: the checkpoint's bytes or sections) nothing changes.
export async function ckpt_write(handle: ckpt_handle_t, section: string, bytes: Uint8Array | string): Promise<number> {
  checkName(section, "section");
  const data = bufferOf(bytes);
  // Answered here, unsent: a section past 1 MiB may not fit the HAM's request frame, whose limit
  // would answer EMSGSIZE. The HAM checks again (its limits are the ones that count).
  const most = Math.min(openHandle(handle).limits.maxSectionBytes, CKPT_LIMIT_SECTION_BYTES);
  if (data.length > most) throw new HamError("E2BIG", `section of ${data.length} bytes exceeds ${most}`);
  return Number(await onHandle(handle, "ckpt_write", { section, data: data.toString("base64") }));
}

export async function ckpt_read(handle: ckpt_handle_t, section: string): Promise<Buffer> {
  checkName(section, "section");
  return Buffer.from(String(await onHandle(handle, "ckpt_read", { section })), "base64");
}

export async function ckpt_delete(handle: ckpt_handle_t, section: string): Promise<number> {
  checkName(section, "section");
  return Number(await onHandle(handle, "ckpt_delete", { section }));
}

// The sections, by name, with their sizes.
export async function ckpt_sections(handle: ckpt_handle_t): Promise<CheckpointSection[]> {
  const reply = (await onHandle(handle, "ckpt_sections", {})) as { sections: CheckpointSection[] };
  return reply.sections;
}

// Closes the handle (a closed one is EBADF, as a closed fd); the checkpoint stays.
export async function ckpt_close(handle: ckpt_handle_t): Promise<number> {
  const open = openHandle(handle);
  open.closed = true;
  const session = sessions.get(open);
  sessions.delete(open);
  if (session !== undefined) {
    session.holds -= 1;
    releaseIfUnused(session);
  }
  return 0;
}

// Removes a checkpoint and its sections; calls on handles on it are EIDRM from then on.
export async function ckpt_unlink(name: string, options: CheckpointUnlinkOptions = {}): Promise<number> {
  checkName(name, "checkpoint");
  const group = groupOf(options);
  return Number(await requestAuto(placeOfNode(null), "ckpt_unlink", { name, ...(group === null ? {} : { group }) }));
}

export async function ckpt_unlink_node(name: string, nodename: string | null, options: CheckpointUnlinkOptions = {}): Promise<number> {
  checkName(name, "checkpoint");
  const group = groupOf(options);
  return Number(await requestAuto(placeOfNode(nodename), "ckpt_unlink", { name, ...(group === null ? {} : { group }) }));
}
