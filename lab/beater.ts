import * as ham from "../lib/index.js";

// A self-attached client of the fault lab: attaches as argv[2] with a heartbeat period of
// argv[3] ms (missed-low after argv[4] periods, missed-high after argv[5]) and beats four
// times a period, forever. Prints "attached" once, and "error ..." for anything that fails.
const [name = "client", periodMs = "500", low = "2", high = "4"] = process.argv.slice(2);
const period = Number(periodMs);
try {
  await ham.ham_attach_self(name, period * 1e6, Number(low), Number(high), 0);
  process.stdout.write("attached\n");
} catch (error) {
  process.stdout.write(`error attach: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
setInterval(() => {
  ham.ham_heartbeat().catch((error: unknown) => process.stdout.write(`error heartbeat: ${String(error)}\n`));
}, period / 4);
