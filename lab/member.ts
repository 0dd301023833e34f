import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import * as ham from "../lib/index.js";
import { MemberCounter } from "./member-counter.js";

// A member of the lab's service group, started by the HAM (its entity in $HAM_ENTITY): it
// registers its role callback and tells the lab, over the Unix socket argv[2], who it is and
// every role it is handed, each with the system-wide monotonic clock (ns) — before it
// acknowledges the role to the HAM, so the lab sees every belief before the HAM acts on it.
// One JSON line per report: {"kind":"hello"|"role"|"error","entity","pid","role"?,"seq"?,"at"}.
// argv[3], in the cluster lab: the node it runs on, so a cross-node group's members (one entity
// name on every node) are told apart as NAME@NODE. argv[4]: the cross-node group, whose
// checkpoint the member keeps a counter in while active (member-counter.ts).
const entity = `${process.env["HAM_ENTITY"] ?? "member"}${process.argv[3] === undefined ? "" : `@${process.argv[3]}`}`;
const labSocket = process.argv[2] ?? "";

let socket: Socket | null = null;
const opened = new Promise<void>((resolve) => {
  const client = connect(labSocket, () => {
    socket = client;
    resolve();
  });
  // No lab to tell (it ended): the member still takes its roles.
  client.on("error", () => {
    socket = null;
    resolve();
  });
});

// Resolves once the line is in the kernel's socket buffer (or there is no lab).
async function report(fields: Record<string, unknown>): Promise<void> {
  await opened;
  const line = `${JSON.stringify({ entity, pid: process.pid, at: String(process.hrtime.bigint()), ...fields })}\n`;
  const current = socket;
  if (current === null) return;
  await new Promise<void>((resolve) => current.write(line, () => resolve()));
}

await report({ kind: "hello" });
const counter = process.argv[4] === undefined ? null : new MemberCounter(process.argv[4], report);
// A HAM taking over may refuse or drop the first tries: tried again until it takes.
for (;;) {
  try {
    await ham.ham_role_register(async ({ role, seq }) => {
      await report({ kind: "role", role, seq });
      // Starts (or stops) after this callback returns, so the role is acknowledged first.
      setImmediate(() => counter?.role(role));
    });
    break;
  } catch (error) {
    await report({ kind: "error", message: error instanceof Error ? error.message : String(error) });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
// Processes outlive their HAM (as in QNX); this one leaves once its run directory is gone.
setInterval(() => {
  if (!existsSync(process.env["HAM_RUN_DIR"] ?? "/nonexistent")) process.exit(0);
}, 1_000);
