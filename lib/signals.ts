import { constants } from "node:os";
import { HamError } from "./errors.js";

// A signal by number or by name ("TERM", "SIGTERM").
export function signalNumber(signal: number | string): number {
  if (typeof signal === "number") return signal;
  const name = signal.startsWith("SIG") ? signal : `SIG${signal}`;
  const value = (constants.signals as Record<string, number | undefined>)[name];
  if (value === undefined) throw new HamError("EINVAL", `unknown signal ${signal}`);
  return value;
}
