import type { MetaValue } from "./persist.js";

// The version of the shared state's layout. A HAM reads its own version and every older one
// it knows how to migrate; a state written by a newer hamd is refused with one line that
// names both versions (a takeover then fails loudly instead of misreading it).
//   1: issue 3 to issue 8 (no version field; firings without `launched`).
//   2: the HAM-wide record carries `version`; a firing may carry `launched`.
export const STATE_VERSION = 2;

export class StateVersionError extends Error {}

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

// The HAM-wide record of a state, checked field by field (it arrives as `unknown`); a state of
// version 1 (no field) is read as is: version 2 only added fields.
export function readMeta(value: unknown): MetaValue | null {
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null) throw new StateVersionError("the shared state's HAM-wide record is not an object");
  const record = value as Record<string, unknown>;
  const version = record["version"] ?? 1;
  if (!isNumber(version) || version < 1 || version > STATE_VERSION) {
    throw new StateVersionError(`the shared state was written by a hamd of state version ${String(version)}; this one reads versions 1 to ${STATE_VERSION} (start with --fresh to discard it)`);
  }
  for (const field of ["hamFailures", "guardianFailures", "verbosity", "nextFiringId", "nextChid", "spawnCount"]) {
    if (!isNumber(record[field])) throw new StateVersionError(`the shared state's HAM-wide record has no number ${field} (state version ${version})`);
  }
  if (!Array.isArray(record["channels"])) throw new StateVersionError(`the shared state's HAM-wide record has no channel list (state version ${version})`);
  const config = record["config"];
  if (typeof config !== "object" || config === null || !Array.isArray((config as Record<string, unknown>)["applied"])) {
    throw new StateVersionError(`the shared state's HAM-wide record has no config list (state version ${version})`);
  }
  return value as MetaValue;
}
