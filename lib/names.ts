import { HamError } from "./errors.js";

export const NAME_MAX_BYTES = 255;

// Entity, condition and action names become path components of /ham: no "/", no leading
// "." (it would hide the item and collide with .info), at most 255 bytes.
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0) throw new HamError("EINVAL", `${what} name must be a non-empty string`);
  if (name.includes("/")) throw new HamError("EINVAL", `${what} name may not contain "/": ${name}`);
  if (name.startsWith(".")) throw new HamError("EINVAL", `${what} name may not start with ".": ${name}`);
  if (name.includes("\0")) throw new HamError("EINVAL", `${what} name may not contain NUL`);
  if (Buffer.byteLength(name) > NAME_MAX_BYTES) {
    throw new HamError("ENAMETOOLONG", `${what} name longer than ${NAME_MAX_BYTES} bytes`);
  }
  return name;
}
