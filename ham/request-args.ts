import { HamError } from "../lib/errors.js";
import { checkName } from "../lib/names.js";

// Reads a request's arguments, which arrive as `unknown`: every accessor checks the type
// and rejects with EINVAL naming the field, so handlers work on trusted values.
export class Args {
  private readonly record: Record<string, unknown>;

  constructor(raw: unknown) {
    if (raw === undefined || raw === null) this.record = {};
    else if (typeof raw === "object" && !Array.isArray(raw)) this.record = raw as Record<string, unknown>;
    else throw new HamError("EINVAL", "arguments must be an object");
  }

  has(field: string): boolean {
    return this.record[field] !== undefined && this.record[field] !== null;
  }

  int(field: string, fallback?: number): number {
    const value = this.record[field];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new HamError("EINVAL", `${field} must be an integer`);
    return value;
  }

  // Unsigned 32-bit flags.
  flags(field = "flags"): number {
    const value = this.int(field, 0);
    if (value < 0 || value > 0xffffffff) throw new HamError("EINVAL", `${field} must be an unsigned 32-bit value`);
    return value;
  }

  string(field: string): string {
    const value = this.record[field];
    if (typeof value !== "string") throw new HamError("EINVAL", `${field} must be a string`);
    return value;
  }

  optionalString(field: string): string | null {
    const value = this.record[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") throw new HamError("EINVAL", `${field} must be a string or null`);
    return value;
  }

  bool(field: string, fallback: boolean): boolean {
    const value = this.record[field];
    if (value === undefined) return fallback;
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return value !== 0;
    throw new HamError("EINVAL", `${field} must be a boolean`);
  }

  name(field: string, what: string): string {
    return checkName(this.record[field], what);
  }

  // An entity name, or null for the global entity.
  entityName(field = "ename"): string | null {
    const value = this.record[field];
    return value === null || value === undefined ? null : checkName(value, "entity");
  }

  raw(field: string): unknown {
    return this.record[field];
  }
}

// Rejects bits not valid for the item kind.
export function checkFlags(flags: number, valid: number, what: string): number {
  if ((flags & ~valid) !== 0) throw new HamError("EINVAL", `invalid ${what} flags 0x${flags.toString(16)}`);
  return flags;
}
