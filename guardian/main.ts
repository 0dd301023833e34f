import type { HamOptions } from "../ham/daemon/ham-options.js";
import { StoreReader } from "../ham/adapters/store.js";
import { exitProcess } from "../ham/daemon/process-end.js";
import { isSameProcessAlive, readStartTime } from "../lib/proc.js";
import { stateDirOf } from "../lib/run-dir.js";
import { Watchdog } from "./watchdog.js";

// The Guardian: spawned by the HAM with an IPC channel. It follows the shared state as it
// changes, and when the channel closes without a stop message (the HAM died) it checks the
// HAM is really gone, becomes the HAM from that state and spawns a Guardian of its own. A HAM
// that stops answering its pings (hung) is SIGKILLed, then taken over the same way.
// It ignores the signals a terminal or a service manager sends; the HAM stops it.
//
// It is ready (protecting) as soon as it follows the state: this module loads only what that
// takes (the state reader, /proc, the watchdog: ~25 ms of CPU here). The HAM's own code (the
// server, the view, the config, pino: 110–150 ms from the bundle, more on a loaded machine) is
// loaded right after, in the background; a takeover waits for what is left of it.
// NODE_EXTRA_CA_CERTS came under another name (adapters/guardian-link.ts: it costs Node's start
// 70–100 ms): back under its own for every process this one starts once it is the HAM.
const carriedExtraCa = process.env["HAMD_NODE_EXTRA_CA_CERTS"];
if (carriedExtraCa !== undefined) {
  process.env["NODE_EXTRA_CA_CERTS"] = carriedExtraCa;
  delete process.env["HAMD_NODE_EXTRA_CA_CERTS"];
}
const [optionsJson, hamPidText] = process.argv.slice(2);
const given = JSON.parse(optionsJson ?? "{}") as HamOptions;
// The etcd password comes in the environment (adapters/guardian-link.ts); a state of an older
// hamd's options has no `cluster`.
const cluster = given.cluster ?? null;
const options: HamOptions = {
  ...given, cluster: cluster === null ? null : { ...cluster, password: process.env["HAMD_ETCD_PASSWORD"] ?? null }, metrics: given.metrics ?? null,
};
// Not handed on to the processes it may start.
delete process.env["HAMD_ETCD_PASSWORD"];
const hamPid = Number(hamPidText);
const hamStartTime = readStartTime(hamPid);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"] as const) process.on(signal, () => undefined);
// Told to stop by the HAM (no takeover), or taking over.
let stopping = false;
let takingOver = false;
// The HAM's stderr (a terminal, a pipe) may close under us: never a reason to die.
process.stderr.on("error", () => undefined);

// The HAM's code, once asked for (after the ready message, or by an early takeover).
type HamCode = typeof import("../ham/daemon/ham.js");
let hamCode: Promise<HamCode> | null = null;
const loadHamCode = (): Promise<HamCode> => (hamCode ??= import("../ham/daemon/ham.js"));

// What the Guardian has to say goes to the HAM's activity log, in the HAM's format (its
// stderr is the HAM's: the format was chosen once, by `ham`). Rare (a hang, a failed
// takeover), so the log is made with the HAM's code when first needed; a line that cannot
// wait for it (the code failed to load) goes to stderr as it is.
let log: Promise<(event: string, line: string) => void> | null = null;
const say = async (event: string, line: string) => {
  log ??= loadHamCode().then(
    (code) => {
      const activityLog = code.createActivityLog(code.activityLogOptions(options));
      return (event: string, line: string) => activityLog.write(code.LOG_LEVEL.events, "warn", { event, guardianPid: process.pid }, line);
    },
    () => (event: string, line: string) => void process.stderr.write(`guardian ${process.pid}: ${event}: ${line}\n`),
  );
  (await log)(event, line);
};

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
  void say("hang", `the HAM (pid ${hamPid}) has not answered for ${Math.round(silentMs)} ms: SIGKILL, then takeover`);
  try {
    process.kill(hamPid, "SIGKILL");
  } catch {
    // gone meanwhile: the channel closing starts the takeover all the same
  }
});

// The watchdog judges the HAM once it serves (it says so; today it forks this Guardian only
// after, but a HAM recovering a state holds its event loop a while and is not hung for that) and
// this Guardian is ready; a HAM that never says so is judged SERVING_WAIT_MS after ready.
const SERVING_WAIT_MS = 10_000;
let serving = false;
let readySent = false;
const watchIfBoth = () => {
  if (serving && readySent && !takingOver && !stopping) watchdog.start();
};
process.on("message", (message: { stop?: boolean; pong?: number; serving?: boolean }) => {
  if (message.stop === true) {
    stopping = true;
    exitProcess(0);
  }
  if (typeof message.pong === "number") watchdog.answered(message.pong);
  if (message.serving === true) {
    serving = true;
    watchIfBoth();
  }
});

process.on("disconnect", () => {
  if (stopping) return;
  void takeOver();
});

async function takeOver(): Promise<void> {
  if (takingOver) return;
  takingOver = true;
  watchdog.stop();
  // Loading what is left of the HAM's code goes on while the old HAM is made sure of.
  const loading = loadHamCode();
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
  let code: HamCode;
  try {
    code = await loading;
  } catch (error) {
    process.stderr.write(`guardian ${process.pid}: takeover failed: the HAM's code did not load: ${error instanceof Error ? error.message : String(error)}\n`);
    exitProcess(1);
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);
  const ham = new code.Ham(options);
  // From now on this is the HAM: the same signals stop it.
  code.stopOnSignals(ham);
  try {
    await ham.start({ takeover: true, reader });
  } catch (error) {
    await say("takeover-failed", `takeover failed: ${error instanceof Error ? error.message : String(error)}`);
    // The Guardian this takeover forked first would take over in turn, and fail the same way.
    await ham.guardian.stop().catch(() => undefined);
    exitProcess(1);
  }
  await ham.stopped;
  exitProcess(0);
}

// The channel may have closed while this module was still loading (the HAM died young): the
// 'disconnect' event is gone by then, so look. Otherwise tell the HAM we are ready, watch it,
// and load the HAM's code it will need to take over.
refresh();
if (!takingOver) {
  if (process.connected) {
    send({ ready: true });
    readySent = true;
    watchIfBoth();
    setTimeout(() => {
      serving = true;
      watchIfBoth();
    }, SERVING_WAIT_MS).unref();
    // A clustered Guardian loads the cluster's code too (etcd3, gRPC, protobufjs: 170–220 ms of
    // CPU here from their bundle): a HAM that took over before would load it in its own event
    // loop before it renews the node's lease, and answer nothing meanwhile (its new Guardian's
    // watchdog judged such a HAM hung after 1 s in the cluster lab).
    // Likewise prom-client for a HAM with --metrics (ham/daemon/metrics-service.ts).
    setImmediate(() => void loadHamCode().then((code) => {
      code.preloadCluster(options.cluster);
      code.preloadMetrics(options.metrics);
    }, () => undefined));
  } else void takeOver();
}
