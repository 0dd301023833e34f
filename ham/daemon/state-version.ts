import type { Meta } from "../core/state.js";
import type { Channels } from "../server/clients.js";
import { configValue, type MetaValue } from "./records.js";
import { isMetaValue } from "./state-schema.js";

// The version of the shared state's layout. A HAM reads its own version and every older one
// it knows how to migrate; a state written by a newer hamd is refused with one line that
// names both versions (a takeover then fails loudly instead of misreading it).
//   1: issue 3 to issue 8 (no version field; firings without `launched`).
//   2: the HAM-wide record carries `version`; a firing may carry `launched`.
export const STATE_VERSION = 2;

export class StateVersionError extends Error {}

// The HAM-wide record of a state: its version first (a state of version 1 has no field and is
// read as is: version 2 only added fields), then its shape (state-schema.ts).
export function readMeta(value: unknown): MetaValue | null {
  if (value === undefined) return null;
  const version = typeof value === "object" && value !== null && "version" in value ? value.version : 1;
  if (typeof version !== "number" || version < 1 || version > STATE_VERSION) {
    throw new StateVersionError(`the shared state was written by a hamd of state version ${String(version)}; this one reads versions 1 to ${STATE_VERSION} (start with --fresh to discard it)`);
  }
  if (!isMetaValue(value)) throw new StateVersionError(`the shared state's HAM-wide record does not have the shape of state version ${version}`);
  return value;
}

// The HAM-wide record as it is written, with this version: the core's meta, and the request
// server's pulse channels.
export function metaValue(meta: Meta, channels: Channels, leaseId: string | null = null, cluster: MetaValue["cluster"] | null = null): MetaValue {
  return {
    version: STATE_VERSION, hamFailures: meta.hamFailures, guardianFailures: meta.guardianFailures, verbosity: meta.verbosity,
    nextFiringId: meta.nextFiringId, nextOrder: meta.nextOrder, spawnCount: meta.spawnCount, nextChid: channels.nextId, channels: channels.list(),
    config: configValue(meta), ...(leaseId === null ? {} : { leaseId }), ...(cluster === null ? {} : { cluster }),
    ...(meta.nodes === undefined ? {} : { nodes: [...meta.nodes].map(([name, fact]) => ({ name, ...fact })) }),
  };
}
