import { HamError } from "../errors.js";

// What every HA-aware handle (file or message connection) shares: its recovery function,
// limits and counters (QNX ha_connection_ctrl), and the one recovery that may be under way.

export const HAREPLACERECOVERYFN = 0x0001;
export const HA_RECOVERY_ACOUNT = 0x0001;
export const HA_RECOVERY_ICOUNT = 0x0002;
export const HA_RECOVERY_SUSPEND = 0x0003;
export const HA_RECOVERY_ENABLE = 0x0004;
export const HA_RECOVERY_RESET_ICOUNT = 0x0005;
export const HA_RECOVERY_RESET_ACOUNT = 0x0006;
// Ours: the errno codes that mean "the connection is gone" for this handle (an array).
export const HA_RECOVERY_TRIGGERS = 0x0100;

// (handle, userHandle) → the new fd or connection (from ha_reopen / ha_ReConnectAttach), or -1.
export type RecoveryFn<T = unknown> = (handle: number, userHandle: T) => number | Promise<number>;

export interface Recovery {
  fn: RecoveryFn;
  userHandle: unknown;
  iterationLimit: number; // negative: unlimited (QNX default)
  lifetimeLimit: number;
  iterations: number;
  recoveries: number;
  suspended: boolean;
  triggers: string[];
}

export interface Covered {
  recovery: Recovery | null;
  recovering: Promise<void> | null;
}

const FIRST_HANDLE = 1 << 20; // far above any real fd, so the two are never confused
let nextHandle = FIRST_HANDLE;
export const registry = new Map<number, Covered>();

export function register(entry: Covered): number {
  const handle = nextHandle++;
  registry.set(handle, entry);
  return handle;
}

export function entryOf(handle: number): Covered {
  const entry = registry.get(handle);
  if (entry === undefined) throw new HamError("EBADF", `no HA handle ${handle}`);
  return entry;
}

export function newRecovery(fn: RecoveryFn, userHandle: unknown, triggers: readonly string[]): Recovery {
  return { fn, userHandle, iterationLimit: -1, lifetimeLimit: -1, iterations: 0, recoveries: 0, suspended: false, triggers: [...triggers] };
}

// No more recovery for this handle (and its dups); the handle stays usable.
export function ha_detach(handle: number): number {
  const entry = entryOf(handle);
  if (entry.recovery === null) throw new HamError("EBADF", `${handle} is not HA-aware`);
  entry.recovery = null;
  return 0;
}

export function ha_connection_ctrl(handle: number, command: number, arg: number | readonly string[] = 0): number {
  const recovery = entryOf(handle).recovery;
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
  return entryOf(handle).recovery?.recoveries ?? 0;
}

// Runs `op`; on a trigger error, recovers (one recovery at a time per handle: operations
// issued meanwhile wait for it, in order) and runs it again. `adopt` installs what the
// recovery function returned.
export async function covered<E extends Covered, R>(handle: number, entry: E, adopt: (result: number) => void, op: (entry: E) => Promise<R>): Promise<R> {
  for (;;) {
    if (entry.recovering !== null) await entry.recovering;
    try {
      const result = await op(entry);
      if (entry.recovery !== null) entry.recovery.iterations = 0;
      return result;
    } catch (error) {
      if (!(await recover(handle, entry, adopt, error))) throw error;
    }
  }
}

async function recover(handle: number, entry: Covered, adopt: (result: number) => void, error: unknown): Promise<boolean> {
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
      const result = await recovery.fn(handle, recovery.userHandle);
      if (typeof result === "number" && result >= 0) {
        adopt(result);
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
