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
  // A leading "@" names a node of the cluster (a node entity, "@n2"), and nothing else.
  if (what === "entity" && name.startsWith("@")) checkNodeName(name.slice(1), "node entity");
  return name;
}

// A cluster's node name (ham --node NAME): letters, digits, ".", "_" and "-", up to 63.
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkNodeName(name: string, what: string): string {
  if (!NODE_NAME.test(name)) throw new HamError("EINVAL", `${what} name "@${name}": a node name is letters, digits, '.', '_' and '-' (up to 63)`);
  return name;
}
