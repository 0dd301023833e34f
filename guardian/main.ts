import { activityLogOptions, createActivityLog, exitProcess, Ham, LOG_LEVEL, preloadCluster, StoreReader, stopOnSignals, type HamOptions } from "../ham/daemon/ham.js";
import { isSameProcessAlive, readStartTime } from "../lib/proc.js";
import { stateDirOf } from "../lib/run-dir.js";
import { Watchdog } from "./watchdog.js";

// The Guardian: spawned by the HAM with an IPC channel. It follows the shared state as it
// changes, and when the channel closes without a stop message (the HAM died) it checks the
// HAM is really gone, becomes the HAM from that state and spawns a Guardian of its own. A HAM
// that stops answering its pings (hung) is SIGKILLed, then taken over the same way.
// It ignores the signals a terminal or a service manager sends; the HAM stops it.
const [optionsJson, hamPidText] = process.argv.slice(2);
const given = JSON.parse(optionsJson ?? "{}") as HamOptions;
// The etcd password comes in the environment (adapters/guardian-link.ts); a state of an older
// hamd's options has no `cluster`.
const cluster = given.cluster ?? null;
const options: HamOptions = { ...given, cluster: cluster === null ? null : { ...cluster, password: process.env["HAMD_ETCD_PASSWORD"] ?? null } };
const hamPid = Number(hamPidText);
const hamStartTime = readStartTime(hamPid);
// A clustered Guardian loads the cluster's code (etcd3, gRPC, protobufjs: ~0.5 s of CPU here), so
// its takeover does not wait for it; but not at once: a Guardian starts right after a takeover,
// while the new HAM recovers, and in the cluster lab Guardians started that way (and often killed
// young) spent a core on it at the worst moment. A takeover before then loads it in the background.
const PRELOAD_AFTER_MS = 3_000;
setTimeout(() => preloadCluster(options.cluster), PRELOAD_AFTER_MS).unref();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"] as const) process.on(signal, () => undefined);
// Told to stop by the HAM (no takeover), or taking over.
let stopping = false;
let takingOver = false;
// The HAM's stderr (a terminal, a pipe) may close under us: never a reason to die.
process.stderr.on("error", () => undefined);
// What the Guardian has to say goes to the HAM's activity log, in the HAM's format (its
// stderr is the HAM's: the format was chosen once, by `ham`).
const log = createActivityLog(activityLogOptions(options));
const say = (event: string, line: string) => log.write(LOG_LEVEL.events, "warn", { event, guardianPid: process.pid }, line);

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
  // The channel closes only when the HAM's last thread is gone, and one thread may be held
  // in the kernel for seconds after a SIGKILL (the lab saw 10 s): a dead main thread is
  // enough to take over.
  if (!isSameProcessAlive(hamPid, hamStartTime) && !stopping) void takeOver();
};
const following = setInterval(refresh, FOLLOW_MS);

// Every message to the HAM may meet a closed channel (it just died): that is the takeover's
// business, never an unhandled EPIPE.
const send = (message: object) => {
  if (!process.connected) return;
  process.send?.(message, undefined, {}, () => undefined);
};

const watchdog = new Watchdog(options.watchdogMs ?? 1_000, send, (silentMs) => {
  if (!isSameProcessAlive(hamPid, hamStartTime)) return;
  say("hang", `the HAM (pid ${hamPid}) has not answered for ${Math.round(silentMs)} ms: SIGKILL, then takeover`);
  try {
    process.kill(hamPid, "SIGKILL");
  } catch {
    // gone meanwhile: the channel closing starts the takeover all the same
  }
});

process.on("message", (message: { stop?: boolean; pong?: number }) => {
  if (message.stop === true) {
    stopping = true;
    exitProcess(0);
  }
  if (typeof message.pong === "number") watchdog.answered(message.pong);
});

process.on("disconnect", () => {
  if (stopping) return;
  void takeOver();
});

async function takeOver(): Promise<void> {
  if (takingOver) return;
  takingOver = true;
  watchdog.stop();
  // The channel closes when the HAM's process ends; a zombie main thread counts as gone (its
  // other threads may linger, blocked in the kernel, holding the old socket: it is replaced).
  const deadline = Date.now() + 2_000;
  while (isSameProcessAlive(hamPid, hamStartTime)) {
    if (Date.now() > deadline) {
      // Deaf to its channel yet alive: end it, or nothing would ever take over.
      try {
        process.kill(hamPid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  clearInterval(following);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);
  const ham = new Ham(options);
  // From now on this is the HAM: the same signals stop it.
  stopOnSignals(ham);
  try {
    await ham.start({ takeover: true, reader });
  } catch (error) {
    say("takeover-failed", `takeover failed: ${error instanceof Error ? error.message : String(error)}`);
    exitProcess(1);
  }
  await ham.stopped;
  exitProcess(0);
}

// The channel may have closed while this module was still loading (the HAM died young): the
// 'disconnect' event is gone by then, so look. Otherwise tell the HAM we are ready, and watch it.
refresh();
if (!takingOver) {
  if (process.connected) {
    send({ ready: true });
    watchdog.start();
  } else void takeOver();
}
