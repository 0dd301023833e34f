import { close, fstat, fsync, ftruncate, open, read, write, type Stats } from "node:fs";
import { promisify } from "node:util";
import { HamError } from "../errors.js";

// HA file handles (QNX libha, reference §9): a handle is a stable number the library maps to
// the current real fd, so a recovery that opens the file again is invisible to the
// application. A covered operation that fails because the connection behind the fd is gone
// calls the recovery function and is issued again; any other error passes through.

export const HAREPLACERECOVERYFN = 0x0001;
export const HA_RECOVERY_ACOUNT = 0x0001;
export const HA_RECOVERY_ICOUNT = 0x0002;
export const HA_RECOVERY_SUSPEND = 0x0003;
export const HA_RECOVERY_ENABLE = 0x0004;
export const HA_RECOVERY_RESET_ICOUNT = 0x0005;
export const HA_RECOVERY_RESET_ACOUNT = 0x0006;
// Ours: the errno codes that mean "the connection is gone" for this handle (an array).
export const HA_RECOVERY_TRIGGERS = 0x0100;

// (handle, userHandle) → the new real fd (from ha_reopen), or -1 to give up.
export type RecoveryFn<T = unknown> = (handle: number, userHandle: T) => number | Promise<number>;

const DEFAULT_TRIGGERS = ["EBADF", "ENOTCONN", "ESTALE", "ECONNABORTED"];
const FIRST_HANDLE = 1 << 20; // far above any real fd, so the two are never confused

// What dups share: the real fd, its position, and the recovery.
interface Shared {
  fd: number;
  position: number;
  refs: number;
  recovery: Recovery | null;
  recovering: Promise<void> | null;
}

interface Recovery {
  fn: RecoveryFn;
  userHandle: unknown;
  iterationLimit: number; // negative: unlimited (QNX default)
  lifetimeLimit: number;
  iterations: number;
  recoveries: number;
  suspended: boolean;
  triggers: string[];
}

const handles = new Map<number, Shared>();
let nextHandle = FIRST_HANDLE;

const openP = promisify(open);
const closeP = promisify(close);
const readP = promisify(read);
const writeP = promisify(write);
const fstatP = promisify(fstat);
const fsyncP = promisify(fsync);
const ftruncateP = promisify(ftruncate);

function shared(handle: number): Shared {
  const entry = handles.get(handle);
  if (entry === undefined) throw new HamError("EBADF", `no HA handle ${handle}`);
  return entry;
}

function register(entry: Shared): number {
  const handle = nextHandle++;
  handles.set(handle, entry);
  return handle;
}

// Makes a real fd (from fs.open) an HA handle; returns the handle.
export function ha_attach<T>(fd: number, rfn: RecoveryFn<T>, userHandle: T, flags = 0): number {
  if ((flags & HAREPLACERECOVERYFN) !== 0) {
    const entry = handles.get(fd);
    if (entry?.recovery == null) throw new HamError("EBADF", `${fd} has no recovery function to replace`);
    entry.recovery.fn = rfn as RecoveryFn;
    entry.recovery.userHandle = userHandle;
    return fd;
  }
  if (handles.has(fd)) throw new HamError("EEXIST", `${fd} is already an HA handle`);
  return register({ fd, position: 0, refs: 1, recovering: null, recovery: newRecovery(rfn as RecoveryFn, userHandle) });
}

function newRecovery(fn: RecoveryFn, userHandle: unknown): Recovery {
  return { fn, userHandle, iterationLimit: -1, lifetimeLimit: -1, iterations: 0, recoveries: 0, suspended: false, triggers: [...DEFAULT_TRIGGERS] };
}

// No more recovery for this handle (and its dups); the handle stays usable.
export function ha_detach(handle: number): number {
  const entry = shared(handle);
  if (entry.recovery === null) throw new HamError("EBADF", `${handle} is not HA-aware`);
  entry.recovery = null;
  return 0;
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
  handles.delete(handle);
  entry.refs -= 1;
  if (entry.refs === 0) await closeP(entry.fd).catch(() => undefined);
  return 0;
}

export function ha_connection_ctrl(handle: number, command: number, arg: number | readonly string[] = 0): number {
  const recovery = shared(handle).recovery;
  if (recovery === null) throw new HamError("EBADF", `${handle} is not HA-aware`);
  switch (command) {
    case HA_RECOVERY_ACOUNT:
      recovery.lifetimeLimit = Number(arg);
      return 0;
    case HA_RECOVERY_ICOUNT:
      recovery.iterationLimit = Number(arg);
      return 0;
    case HA_RECOVERY_SUSPEND:
      recovery.suspended = true;
      return 0;
    case HA_RECOVERY_ENABLE:
      recovery.suspended = false;
      return 0;
    case HA_RECOVERY_RESET_ICOUNT:
      recovery.iterations = 0;
      return 0;
    case HA_RECOVERY_RESET_ACOUNT:
      recovery.recoveries = 0;
      return 0;
    case HA_RECOVERY_TRIGGERS:
      if (!Array.isArray(arg)) throw new HamError("EINVAL", "HA_RECOVERY_TRIGGERS takes a list of errno codes");
      recovery.triggers = [...arg];
      return 0;
    default:
      throw new HamError("EINVAL", `unknown ha_connection_ctrl command ${command}`);
  }
}

// How many recoveries a handle (and its dups) went through.
export function ha_recoveries(handle: number): number {
  return shared(handle).recovery?.recoveries ?? 0;
}

// Runs `op` on the handle's current fd; on a trigger error, recovers (one recovery at a time
// per handle: operations issued meanwhile wait for it, in order) and runs it again.
async function covered<R>(handle: number, op: (entry: Shared) => Promise<R>): Promise<R> {
  const entry = shared(handle);
  for (;;) {
    if (entry.recovering !== null) await entry.recovering;
    try {
      const result = await op(entry);
      if (entry.recovery !== null) entry.recovery.iterations = 0;
      return result;
    } catch (error) {
      if (!(await recover(handle, entry, error))) throw error;
    }
  }
}

async function recover(handle: number, entry: Shared, error: unknown): Promise<boolean> {
  const recovery = entry.recovery;
  const code = (error as NodeJS.ErrnoException).code;
  if (recovery === null || recovery.suspended || code === undefined || !recovery.triggers.includes(code)) return false;
  if (entry.recovering !== null) {
    await entry.recovering; // another operation is already recovering this connection
    return true;
  }
  if (recovery.iterationLimit >= 0 && recovery.iterations >= recovery.iterationLimit) return false;
  if (recovery.lifetimeLimit >= 0 && recovery.recoveries >= recovery.lifetimeLimit) return false;
  recovery.iterations += 1;
  let succeeded = false;
  entry.recovering = (async () => {
    try {
      const fd = await recovery.fn(handle, recovery.userHandle);
      if (typeof fd === "number" && fd >= 0) {
        entry.fd = fd;
        recovery.recoveries += 1;
        succeeded = true;
      }
    } catch {
      // a recovery that throws gives up, as one that returns -1
    }
  })();
  try {
    await entry.recovering;
  } finally {
    entry.recovering = null;
  }
  return succeeded;
}

// Covered I/O, in the style of node:fs/promises. `position` null: the handle's own position,
// which advances (and which dups share).
export function ha_read(handle: number, buffer: Buffer, offset = 0, length = buffer.length - offset, position: number | null = null): Promise<number> {
  return covered(handle, async (entry) => {
    const at = position ?? entry.position;
    const { bytesRead } = await readP(entry.fd, buffer, offset, length, at);
    if (position === null) entry.position = at + bytesRead;
    return bytesRead;
  });
}

export function ha_write(handle: number, buffer: Buffer, offset = 0, length = buffer.length - offset, position: number | null = null): Promise<number> {
  return covered(handle, async (entry) => {
    const at = position ?? entry.position;
    const { bytesWritten } = await writeP(entry.fd, buffer, offset, length, at);
    if (position === null) entry.position = at + bytesWritten;
    return bytesWritten;
  });
}

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

export const ha_fstat = (handle: number): Promise<Stats> => covered(handle, (entry) => fstatP(entry.fd));
export const ha_fsync = (handle: number): Promise<void> => covered(handle, (entry) => fsyncP(entry.fd));
export const ha_ftruncate = (handle: number, length = 0): Promise<void> => covered(handle, (entry) => ftruncateP(entry.fd, length));
