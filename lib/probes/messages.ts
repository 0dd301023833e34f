import type { ProbeSpec } from "../tree/types.js";

// The messages between the HAM (ham/adapters/prober-link.ts) and its prober process (prober/),
// over the IPC channel of the fork, each a batch. `seq` names one start of an entity's probes:
// results of an earlier start (an earlier process, or probes since replaced) are dropped.

export type ProberCommand =
  | { readonly op: "start"; readonly entity: string; readonly seq: number; readonly probes: readonly ProbeSpec[] }
  | { readonly op: "stop"; readonly entity: string };

export interface ToProber {
  readonly commands: readonly ProberCommand[];
}

// A check's result that changed a count or a state: every failure, and the passes until
// `successThreshold` of them in a row since the probe started or last failed.
export interface ProberResult {
  readonly entity: string;
  readonly seq: number;
  readonly probe: string;
  readonly ok: boolean;
  readonly error: string | null;
}

export interface FromProber {
  readonly results: readonly ProberResult[];
}
