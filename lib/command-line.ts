import { HamError } from "./errors.js";

// Splits a QNX command line (reference §5.10): whitespace separates tokens, single or
// double quotes group a token that contains spaces. No shell, no escapes, no expansion.
export function splitCommandLine(line: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let inToken = false;
  let quote: "'" | '"' | null = null;
  for (const char of line) {
    if (quote !== null) {
      if (char === quote) quote = null;
      else current += char;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      inToken = true;
    } else if (/\s/.test(char)) {
      if (inToken) tokens.push(current);
      current = "";
      inToken = false;
    } else {
      current += char;
      inToken = true;
    }
  }
  if (quote !== null) throw new HamError("EINVAL", `unterminated ${quote} quote in command line`);
  if (inToken) tokens.push(current);
  if (tokens.length === 0) throw new HamError("EINVAL", "empty command line");
  return tokens;
}

// Joins argv into a QNX command line (reference §5.10) that splits back to the same argv.
export function joinCommandLine(argv: readonly string[]): string {
  return argv.map((token) => {
    if (token !== "" && !/[\s'"]/.test(token)) return token;
    if (!token.includes('"')) return `"${token}"`;
    if (!token.includes("'")) return `'${token}'`;
    throw new HamError("EINVAL", `an argument holds both quote characters and cannot be passed: ${token}`);
  }).join(" ");
}
