import { Ham, type HamOptions } from "../ham/ham.js";
import { isProcessGone, readStartTime } from "../ham/processes.js";
import { StoreReader, stateDirOf } from "../ham/store.js";

// The Guardian: spawned by the HAM with an IPC channel. It follows the shared state as it
// changes, and when the channel closes without a stop message (the HAM died) it checks the
// HAM is really gone, becomes the HAM from that state and spawns a Guardian of its own.
// It ignores the signals a terminal or a service manager sends; the HAM stops it.
const [optionsJson, hamPidText] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? "{}") as HamOptions;
const hamPid = Number(hamPidText);
const hamStartTime = readStartTime(hamPid);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"] as const) process.on(signal, () => undefined);

// Follows the state by reading what was appended every FOLLOW_MS (a watch would wake this
// process at every append and slow the HAM's writes on a busy machine); a takeover reads
// the last few records left.
const FOLLOW_MS = 50;
const reader = new StoreReader(stateDirOf(options.runDir));
const refresh = () => {
  try {
    reader.refresh();
  } catch {
    // a file replaced while read: the next turn reads again
  }
};
refresh();
const following = setInterval(refresh, FOLLOW_MS);

let stopping = false;
process.on("message", (message: { stop?: boolean }) => {
  if (message.stop === true) {
    stopping = true;
    process.exit(0);
  }
});

process.on("disconnect", () => {
  if (stopping) return;
  void takeOver();
});

let takingOver = false;
async function takeOver(): Promise<void> {
  if (takingOver) return;
  takingOver = true;
  // The channel closes when the HAM's process ends; a zombie counts as gone.
  const deadline = Date.now() + 2_000;
  while (!isProcessGone(hamPid, hamStartTime)) {
    if (Date.now() > deadline) process.exit(1); // alive but deaf: it will start a new Guardian
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  clearInterval(following);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.removeAllListeners(signal);
  const ham = new Ham(options);
  const stop = () => void ham.stop("signal", false).then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    await ham.start({ takeover: true, reader });
  } catch (error) {
    process.stderr.write(`ham (guardian ${process.pid}): takeover failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  await ham.stopped;
  process.exit(0);
}

// The channel may have closed while this module was still loading (the HAM died young): the
// 'disconnect' event is gone by then, so look. Otherwise tell the HAM we are ready.
if (process.connected) process.send?.({ ready: true });
else void takeOver();
