// A heartbeating client that stalls: it self-attaches (the HAM started it, so it is the
// same entity), beats every 100 ms, and stops beating after 2 s as if deadlocked. The
// config's MISSEDHIGH condition kills it and its death condition restarts it.
import { ham_attach_self, ham_heartbeat } from "../dist/lib/index.js";

await ham_attach_self(process.env.HAM_ENTITY ?? "beater", 100_000_000, 3, 5, 0);
process.stdout.write(`beater ${process.pid}: attached, beating\n`);
const started = Date.now();
setInterval(() => {
  if (Date.now() - started < 2000) void ham_heartbeat();
}, 50);

// Processes outlive their HAM (as in QNX); this demo client leaves once its HAM is gone.
import { existsSync } from "node:fs";
setInterval(() => {
  if (!existsSync(`${process.env.HAM_RUN_DIR}/ham.sock`)) process.exit(0);
}, 500);
