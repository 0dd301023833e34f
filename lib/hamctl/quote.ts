import { HamError } from "../errors.js";

// Joins argv into a QNX command line (reference §5.10) that splits back to the same argv.
export function joinCommandLine(argv: readonly string[]): string {
  return argv.map((token) => {
    if (token !== "" && !/[\s'"]/.test(token)) return token;
    if (!token.includes('"')) return `"${token}"`;
    if (!token.includes("'")) return `'${token}'`;
    throw new HamError("EINVAL", `an argument holds both quote characters and cannot be passed: ${token}`);
  }).join(" ");
}
