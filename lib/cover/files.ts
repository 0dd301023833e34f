import { close, fstat, fsync, ftruncate, open, read, write, type Stats } from "node:fs";
import { promisify } from "node:util";
import { HamError } from "../errors.js";
import {
  covered, entryOf, HAREPLACERECOVERYFN, newRecovery, register, registry, type Covered, type RecoveryFn,
} from "./recovery.js";

// HA file handles (QNX libha, reference §9): a handle is a stable number the library maps to
// the current real fd, so a recovery that opens the file again is invisible to the
// application. A covered operation that fails because the connection behind the fd is gone
// calls the recovery function and is issued again; any other error passes through.

const DEFAULT_TRIGGERS = ["EBADF", "ENOTCONN", "ESTALE", "ECONNABORTED"];

// What dups share: the real fd, its position, and the recovery.
interface Shared extends Covered {
  fd: number;
  position: number;
  refs: number;
}

const openP = promisify(open);
const closeP = promisify(close);
const readP = promisify(read);
const writeP = promisify(write);
const fstatP = promisify(fstat);
const fsyncP = promisify(fsync);
const ftruncateP = promisify(ftruncate);

const shared = (handle: number): Shared => {
  const entry = entryOf(handle);
  if (!("fd" in entry)) throw new HamError("EBADF", `${handle} is not a file handle`);
  return entry as Shared;
};

// Makes a real fd (from fs.open) an HA handle and returns the handle; with
// HAREPLACERECOVERYFN, replaces the recovery function of an HA handle (and of its dups).
export function ha_attach<T>(fd: number, rfn: RecoveryFn<T>, userHandle: T, flags = 0): number {
  if ((flags & HAREPLACERECOVERYFN) !== 0) {
    const entry = registry.get(fd);
    if (entry?.recovery == null) throw new HamError("EBADF", `${fd} has no recovery function to replace`);
    entry.recovery.fn = rfn as RecoveryFn;
    entry.recovery.userHandle = userHandle;
    return fd;
  }
  if (registry.has(fd)) throw new HamError("EEXIST", `${fd} is already an HA handle`);
  const entry: Shared = { fd, position: 0, refs: 1, recovering: null, recovery: newRecovery(rfn as RecoveryFn, userHandle, DEFAULT_TRIGGERS) };
  return register(entry);
}

export async function ha_open<T>(path: string, flags: string | number, rfn: RecoveryFn<T>, userHandle: T, haflags = 0, mode?: number): Promise<number> {
  const fd = await openP(path, flags, mode);
  return ha_attach(fd, rfn, userHandle, haflags & ~HAREPLACERECOVERYFN);
}

export function ha_creat<T>(path: string, mode: number, rfn: RecoveryFn<T>, userHandle: T, haflags = 0): Promise<number> {
  return ha_open(path, "w", rfn, userHandle, haflags, mode);
}

// Inside a recovery function: closes the handle's old fd, opens `path` again and makes the
// handle use it; returns the new real fd (what the recovery function returns).
export async function ha_reopen(handle: number, path: string, flags: string | number, mode?: number): Promise<number> {
  const entry = shared(handle);
  await closeP(entry.fd).catch(() => undefined);
  const fd = await openP(path, flags, mode);
  entry.fd = fd;
  return fd;
}

// A second handle on the same file, position and recovery (changing one changes the other).
export function ha_dup(handle: number): number {
  const entry = shared(handle);
  if (entry.recovery === null) throw new HamError("EBADF", `${handle} is not HA-aware`);
  entry.refs += 1;
  return register(entry);
}

export async function ha_close(handle: number): Promise<number> {
  const entry = shared(handle);
  registry.delete(handle);
  entry.refs -= 1;
  if (entry.refs === 0) await closeP(entry.fd).catch(() => undefined);
  return 0;
}

// Runs `op` on the handle's current fd, recovering the handle when its connection is gone.
function coveredFile<R>(handle: number, op: (entry: Shared) => Promise<R>): Promise<R> {
  const entry = shared(handle);
  return covered(handle, entry, (fd) => {
    entry.fd = fd;
  }, op);
}

// Covered I/O, in the style of node:fs/promises. `position` null: the handle's own position,
// which advances (and which dups share).
function positioned(handle: number, position: number | null, io: (fd: number, at: number) => Promise<number>): Promise<number> {
  return coveredFile(handle, async (entry) => {
    const at = position ?? entry.position;
    const bytes = await io(entry.fd, at);
    if (position === null) entry.position = at + bytes;
    return bytes;
  });
}

export const ha_read = (handle: number, buffer: Buffer, offset = 0, length = buffer.length - offset, position: number | null = null): Promise<number> =>
  positioned(handle, position, async (fd, at) => (await readP(fd, buffer, offset, length, at)).bytesRead);

export const ha_write = (handle: number, buffer: Buffer, offset = 0, length = buffer.length - offset, position: number | null = null): Promise<number> =>
  positioned(handle, position, async (fd, at) => (await writeP(fd, buffer, offset, length, at)).bytesWritten);

export const ha_pread = (handle: number, buffer: Buffer, offset: number, length: number, position: number) => ha_read(handle, buffer, offset, length, position);
export const ha_pwrite = (handle: number, buffer: Buffer, offset: number, length: number, position: number) => ha_write(handle, buffer, offset, length, position);

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// Moves the handle's position (no system call for SEEK_SET/SEEK_CUR); returns it.
export async function ha_lseek(handle: number, offset: number, whence = SEEK_SET): Promise<number> {
  const entry = shared(handle);
  const base = whence === SEEK_SET ? 0 : whence === SEEK_CUR ? entry.position : (await ha_fstat(handle)).size;
  if (base + offset < 0) throw new HamError("EINVAL", "resulting position is negative");
  entry.position = base + offset;
  return entry.position;
}

export const ha_fstat = (handle: number): Promise<Stats> => coveredFile(handle, (entry) => fstatP(entry.fd));
export const ha_fsync = (handle: number): Promise<void> => coveredFile(handle, (entry) => fsyncP(entry.fd));
export const ha_ftruncate = (handle: number, length = 0): Promise<void> => coveredFile(handle, (entry) => ftruncateP(entry.fd, length));
