import { getPriority, setPriority } from "node:os";
import type { FromProber, ProberResult, ToProber } from "../lib/probes/messages.js";
import type { ProbeSpec } from "../lib/tree/types.js";
import { runCheck } from "./checks.js";

// The prober: a child of the HAM (forked once, when the first probe starts) that runs every
// probe off the HAM's event loop. It gets the probes to run per entity, and sends back only the
// results that change a count or a state, batched per turn of its event loop. It ends when its
// channel to the HAM closes (the HAM stopped or died; a HAM that takes over forks its own).

class ProbeLoop {
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  // Passes since the probe started or last failed, while fewer than successThreshold.
  private passes = 0;
  private stopped = false;

  constructor(private readonly entity: string, private readonly seq: number, private readonly spec: ProbeSpec) {
    this.timer = setTimeout(() => void this.check(), spec.startGraceMs);
  }

  private async check(): Promise<void> {
    this.timer = null;
    const startedAt = performance.now();
    // HAM_PROBE_ENTITY, not HAM_ENTITY: a check is no process of the entity (tools count those by it).
    const error = await runCheck(this.spec, { ...process.env, HAM_PROBE_ENTITY: this.entity }, this.abort.signal);
    if (this.stopped) return;
    if (error !== null) {
      this.passes = 0;
      report({ entity: this.entity, seq: this.seq, probe: this.spec.name, ok: false, error });
    } else if (this.passes < this.spec.successThreshold) {
      this.passes += 1;
      report({ entity: this.entity, seq: this.seq, probe: this.spec.name, ok: true, error: null });
    }
    // Interval from start to start; a check longer than the interval is followed at once.
    const next = Math.max(0, startedAt + this.spec.intervalMs - performance.now());
    this.timer = setTimeout(() => void this.check(), next);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.abort.abort();
  }
}

const entities = new Map<string, ProbeLoop[]>();
let batch: ProberResult[] = [];

function report(result: ProberResult): void {
  if (batch.length === 0) setImmediate(flush);
  batch.push(result);
}

function flush(): void {
  const message: FromProber = { results: batch };
  batch = [];
  if (process.connected) process.send?.(message, undefined, {}, () => undefined);
}

function stopEntity(entity: string): void {
  for (const loop of entities.get(entity) ?? []) loop.stop();
  entities.delete(entity);
}

process.on("message", (message: ToProber) => {
  for (const command of message.commands ?? []) {
    stopEntity(command.entity);
    if (command.op === "start") entities.set(command.entity, command.probes.map((spec) => new ProbeLoop(command.entity, command.seq, spec)));
  }
});

// Below the HAM's priority (nice +10, at most 19): where the two compete for a core, the
// kernel runs the HAM's restart or heartbeat judgement first. (The bench runs the HAM at nice
// 19 already, so it cannot show this: its prober shares the HAM's priority there.)
try {
  setPriority(0, Math.min(19, getPriority(0) + 10));
} catch {
  // not allowed: the same priority as the HAM
}

// As the Guardian: a Ctrl-C or a service manager's SIGTERM to the HAM's process group is the
// HAM's to answer; the prober ends when its channel closes.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"] as const) process.on(signal, () => undefined);

// The HAM is gone: checks under way are ended (an exec probe's process group with them).
process.on("disconnect", () => {
  for (const entity of [...entities.keys()]) stopEntity(entity);
  process.exit(0);
});
