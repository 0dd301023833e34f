import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

// Where a HAM instance lives (contract): --run-dir, else $HAM_RUN_DIR, else /run/ham for
// root, else ${XDG_RUNTIME_DIR:-/tmp}/ham-$UID. Clients find their HAM the same way.
export function resolveRunDir(explicit?: string | null): string {
  if (explicit !== undefined && explicit !== null && explicit !== "") return resolve(explicit);
  const fromEnv = process.env["HAM_RUN_DIR"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  if (uid === 0) return "/run/ham";
  return join(process.env["XDG_RUNTIME_DIR"] ?? "/tmp", `ham-${uid}`);
}

export function socketPathOf(runDir: string): string {
  return join(runDir, "ham.sock");
}

// The HAM's shared state of a run directory: under /dev/shm, else the run directory's state/.
export function stateDirOf(runDir: string): string {
  const name = `hamd-${createHash("sha256").update(runDir).digest("hex").slice(0, 16)}`;
  return existsSync("/dev/shm") ? join("/dev/shm", name) : join(runDir, "state");
}

// An entity's output files (ham/adapters/output.ts): RUN_DIR/output/<entity>.out and .err. An
// entity name is a valid file name (no "/", no leading "."); a very long one is shortened with a
// digest so that ".out.2" still fits in 255 bytes.
export function outputFilesOf(runDir: string, entity: string): { out: string; err: string } {
  const name = Buffer.byteLength(entity) <= 200 ? entity : `${entity.slice(0, 100)}~${createHash("sha256").update(entity).digest("hex").slice(0, 16)}`;
  const base = join(runDir, "output", name);
  return { out: `${base}.out`, err: `${base}.err` };
}
