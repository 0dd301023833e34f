import { isHamErrorCode, type HamErrorCode } from "../errors.js";

// Messages carried in frames (see frame.ts).
//   request   client → HAM   { i: id > 0, op, a }   expects a reply with the same i
//   one-way   client → HAM   { i: 0, op, a }        never replied to (heartbeats)
//   reply     HAM → client   { i, r } or { i, e: code, m: message }; i = -1 when the
//                            request could not be read at all (malformed, oversize)
//   event     HAM → client   { ev: "pulse", chid, code, value } | { ev: "bye", reason } | { ev: "role", ... }

export const PROTOCOL_VERSION = 1;
// 2 MiB: a checkpoint section of 1 MiB (lib/checkpoint-limits.ts) is 1.4 MB as base64.
export const SERVER_MAX_FRAME_BYTES = 2 * 1024 * 1024;
export const CLIENT_MAX_FRAME_BYTES = 256 * 1024 * 1024;

export interface Request {
  readonly i: number;
  readonly op: string;
  readonly a: unknown;
}

export type Reply =
  | { readonly i: number; readonly r: unknown }
  | { readonly i: number; readonly e: HamErrorCode; readonly m: string };

export type ServerEvent =
  | { readonly ev: "pulse"; readonly chid: number; readonly code: number; readonly value: number }
  | { readonly ev: "bye"; readonly reason: string }
  // To clients that asked ("watch"): these entities changed ("" is the global entity).
  | { readonly ev: "changed"; readonly names: readonly string[] }
  // A service group's role for an entity of this process (ham_role_register): acknowledge with
  // a role_ack request carrying the same seq.
  // `until` (a serving role of a cluster group): CLOCK_MONOTONIC ms past which it no longer holds.
  | { readonly ev: "role"; readonly group: string; readonly entity: string; readonly role: string; readonly seq: number; readonly until?: number }
  // A leased role's `until`, renewed.
  | { readonly ev: "lease"; readonly group: string; readonly entity: string; readonly until: number };

export function parseRequest(value: unknown): Request | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "a request must be an object";
  const { i, op, a } = value as Record<string, unknown>;
  if (typeof i !== "number" || !Number.isSafeInteger(i) || i < 0) return "request id must be a non-negative integer";
  if (typeof op !== "string" || op.length === 0 || op.length > 64) return "op must be a short string";
  return { i, op, a };
}

export type Incoming =
  | { kind: "reply"; id: number; result: unknown }
  | { kind: "error"; id: number; code: HamErrorCode; message: string }
  | { kind: "event"; event: ServerEvent }
  | { kind: "invalid" };

export function parseIncoming(value: unknown): Incoming {
  if (typeof value !== "object" || value === null) return { kind: "invalid" };
  const record = value as Record<string, unknown>;
  if (typeof record["i"] === "number") {
    const id = record["i"];
    if ("e" in record) {
      const code = isHamErrorCode(record["e"]) ? record["e"] : "EIO";
      return { kind: "error", id, code, message: String(record["m"] ?? "") };
    }
    return { kind: "reply", id, result: record["r"] };
  }
  if (record["ev"] === "pulse" && typeof record["chid"] === "number") {
    return {
      kind: "event",
      event: { ev: "pulse", chid: record["chid"], code: Number(record["code"]), value: Number(record["value"]) },
    };
  }
  if (record["ev"] === "changed" && Array.isArray(record["names"])) {
    return { kind: "event", event: { ev: "changed", names: record["names"].map(String) } };
  }
  if (record["ev"] === "role" && typeof record["seq"] === "number") {
    return {
      kind: "event",
      event: {
        ev: "role", group: String(record["group"]), entity: String(record["entity"]), role: String(record["role"]), seq: record["seq"],
        ...(typeof record["until"] === "number" ? { until: record["until"] } : {}),
      },
    };
  }
  if (record["ev"] === "lease" && typeof record["until"] === "number") {
    return { kind: "event", event: { ev: "lease", group: String(record["group"]), entity: String(record["entity"]), until: record["until"] } };
  }
  if (record["ev"] === "bye") return { kind: "event", event: { ev: "bye", reason: String(record["reason"] ?? "") } };
  return { kind: "invalid" };
}
