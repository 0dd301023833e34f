import { HamError, isHamErrorCode, type HamErrorCode } from "../../lib/errors.js";
import type { Effect, SpawnCause } from "../core/effects.js";
import type { At, CoreEvent, ReplyTo } from "../core/events.js";
import type { HamState } from "../core/state.js";
import { step } from "../core/step.js";
import type { Clock, Timers } from "../adapters/clock.js";
import { spawnEnv, type ExitInfo, type Spawned } from "../adapters/processes.js";
import type { ProbeSpec } from "../../lib/tree/types.js";

// The one interpreter: it feeds events to the core (step), keeps the state it returns, notes
// the changed records for the journal, and carries out the effects through the adapters. An
// effect with a result (a spawn, a signal, a pulse) answers with an event, handled right after
// the current one: events are handled one at a time, in order, to completion.

export interface Adapters {
  // Starts a process for `entity` (its output goes to the entity's files); `notify`: a pipe on
  // that fd of the process, `onReady` called at the first newline it writes there.
  spawn(entity: string, line: string, env: NodeJS.ProcessEnv, onExit: (exit: ExitInfo) => void, notify?: { fd: number; onReady: () => void }): Spawned;
  // The environment of every process the HAM starts for `entity`.
  childEnv(entity: string): NodeJS.ProcessEnv;
  signal(pid: number, signal: number): boolean;
  pulse(pid: number, chid: number, code: number, value: number): boolean;
  waitFor(path: string, delayMs: number): Promise<boolean>;
  // `exit`: how it died, when that could still be read (null: unknown).
  watchPid(pid: number, startTime: number | null, onDeath: (exit: ExitInfo | null) => void): void;
  unwatchPid(pid: number): void;
  terminate(pid: number, startTime: number | null): void;
  // SIGKILL now, if pid is still the process that started at startTime; false when it could
  // not be signalled (gone already counts as done).
  fence(pid: number, startTime: number | null): boolean;
  // A client request's answer, recorded in the shared state with the changes of the transition
  // that gave it (the next write), so the request sent again gets it; and a request answered
  // later (not in the transition it came in) answered to its session, if connected.
  recordReply(to: ReplyTo, payload: ReplyPayload): void;
  answerLater(to: ReplyTo, payload: ReplyPayload): void;
  // A role to the client session `token` (false: not connected now).
  // `leased`: sent with the node's lease deadline (a serving role of a cluster group).
  assign(token: string, message: { group: string; entity: string; role: string; seq: number }, leased: boolean): boolean;
  // Cluster groups' elections (ham/cluster/election.ts): answered by `elected` or `holder` events.
  campaign?(group: string, member: string): void;
  resign?(group: string, token: string, yielded: boolean): void;
  // The prober process (adapters/prober-link.ts): checks `entity`'s process with these probes
  // (replacing what it checked for it), or stops; its results come back as `probe-results`.
  probeStart?(entity: string, pid: number, probes: readonly ProbeSpec[]): void;
  probeStop?(entity: string): void;
  // Runs before each event from outside: a HAM resumed after a hang sees its lease deadline first.
  preflight?(): void;
  log(verbosity: number, level: "info" | "warn" | "error", fields: Readonly<Record<string, unknown>>, message: string): void;
  setVerbosity(value: number): void;
  // The changed records of the shared state (written at the end of the turn), and at once.
  changed(keys: ReadonlySet<string>): void;
  persistNow(): void;
  bindSelf(ref: number, entity: string): void;
  unbindSelf(entity: string): void;
  // Test-only crash points (fail-point.ts).
  failPoint(name: string, entity: string): void;
}

export type Reply = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly code: HamErrorCode; readonly message: string };
// A reply as the wire carries it (lib/wire/protocol.ts), and as the shared state keeps it.
export type ReplyPayload = { readonly r: unknown } | { readonly e: HamErrorCode; readonly m: string };

const replyCode = (code: string): HamErrorCode => (isHamErrorCode(code) ? code : "EIO");

function payloadOf(effect: Extract<Effect, { kind: "reply" | "reply-error" | "reply-pending" }>): ReplyPayload {
  return effect.kind === "reply-error" ? { e: replyCode(effect.code), m: effect.message } : { r: effect.result ?? 0 };
}

// A reply as a result, or its error thrown (null, answered later, is only for requests with a `to`).
export function replyValue(reply: Reply | null): unknown {
  if (reply === null) throw new HamError("EIO", "no reply");
  if (reply.ok) return reply.result;
  throw new HamError(reply.code, reply.message);
}

export class Interpreter {
  private readonly events: CoreEvent[] = [];
  private draining = false;
  private stopped = false;
  private nextRef = 1;
  private readonly replies = new Map<number, Reply>();

  constructor(
    public state: HamState,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly adapters: Adapters,
  ) {}

  at(): At {
    return { wall: this.clock.wall(), mono: this.clock.mono() };
  }

  // Handles `event` (and every event its effects answer with) to completion.
  dispatch(event: CoreEvent): void {
    if (this.stopped) return;
    if (this.draining) {
      this.events.push(event);
      return;
    }
    // May dispatch a `lease` event of its own first (it is not draining yet).
    this.adapters.preflight?.();
    if (this.stopped) return;
    this.draining = true;
    try {
      for (let next: CoreEvent | undefined = event; next !== undefined; next = this.events.shift()) {
        if (this.stopped) break;
        const result = step(this.state, next);
        this.state = result.state;
        // Before any effect: the first write of this transition (a persist-now, or the turn's end)
        // carries its answer with its changes.
        for (const effect of result.effects) {
          if ((effect.kind === "reply" || effect.kind === "reply-error" || effect.kind === "reply-pending") && effect.to !== null) {
            this.adapters.recordReply(effect.to, payloadOf(effect));
          }
        }
        if (result.changes.size > 0) this.adapters.changed(result.changes);
        for (const effect of result.effects) this.run(effect);
      }
    } finally {
      this.draining = false;
      this.events.length = 0;
    }
  }

  // A request: its reply (an attach's comes once its spawn answered, in the same call), or
  // null when the core answers it later, to its session (`to`: a switchover that is waited for).
  // `prepare` runs with the request's ref before the core sees it.
  request(make: (ref: number, at: At) => CoreEvent, prepare: (ref: number) => void = () => undefined, to: ReplyTo | null = null): Reply | null {
    if (this.draining) throw new Error("a request while an event is handled");
    const ref = this.nextRef++;
    prepare(ref);
    this.dispatch(make(ref, this.at()));
    const reply = this.replies.get(ref);
    this.replies.delete(ref);
    if (reply === undefined && to !== null && !this.stopped) return null;
    return reply ?? { ok: false, code: "EIO", message: this.stopped ? "the HAM is stopping" : "no reply" };
  }

  timerFired(id: string): void {
    this.dispatch({ kind: "timer", at: this.at(), id });
  }

  stop(): void {
    this.stopped = true;
    this.timers.stop();
  }

  private run(effect: Effect): void {
    const a = this.adapters;
    switch (effect.kind) {
      case "spawn":
        this.spawn(effect.entity, effect.line, effect.token, effect.cause, effect.notifyFd ?? null);
        return;
      case "execute": {
        let ok = true;
        try {
          a.spawn(effect.entity, effect.line, a.childEnv(effect.entity), () => undefined);
        } catch (error) {
          a.log(1, "warn", { event: "execute-failed", entity: effect.entity }, String(error));
          ok = false;
        }
        this.answer(effect.firing, ok);
        return;
      }
      case "signal":
        this.answer(effect.firing, a.signal(effect.pid, effect.signal));
        return;
      case "pulse":
        this.answer(effect.firing, a.pulse(effect.pid, effect.chid, effect.code, effect.value));
        return;
      case "watch-path":
        void a.waitFor(effect.path, Math.max(0, effect.until - this.clock.mono())).catch(() => false)
          .then((ok) => this.dispatch({ kind: "action-done", at: this.at(), firing: effect.firing, ok }));
        return;
      case "watch-pid": {
        const unknown = effect.adopted ? "exit status unknown (adopted after a takeover)" : "exit status unknown (not the HAM's child)";
        a.watchPid(effect.pid, effect.startTime, (exit) => this.dispatch({
          kind: "died", at: this.at(), entity: effect.entity, pid: effect.pid, abnormal: exit?.abnormal ?? false, reason: exit?.description ?? unknown,
          clean: exit?.code === 0 && exit.signal === null,
        }));
        return;
      }
      case "unwatch-pid":
        a.unwatchPid(effect.pid);
        return;
      case "arm":
        this.timers.arm(effect.id, effect.at);
        return;
      case "cancel":
        this.timers.cancel(effect.id);
        return;
      case "log":
        a.log(effect.verbosity, effect.level, effect.fields, effect.message);
        return;
      case "verbosity":
        a.setVerbosity(effect.value);
        return;
      case "persist-now":
        a.persistNow();
        return;
      case "reply":
        if (effect.ref !== null) this.replies.set(effect.ref, { ok: true, result: effect.result });
        else if (effect.to !== null) a.answerLater(effect.to, payloadOf(effect));
        return;
      case "reply-error":
        if (effect.ref !== null) this.replies.set(effect.ref, { ok: false, code: replyCode(effect.code), message: effect.message });
        else if (effect.to !== null) a.answerLater(effect.to, payloadOf(effect));
        return;
      case "reply-pending":
        return;
      case "bind-self":
        a.bindSelf(effect.ref, effect.entity);
        return;
      case "unbind-self":
        a.unbindSelf(effect.entity);
        return;
      case "terminate":
        a.terminate(effect.pid, effect.startTime);
        return;
      case "fence":
        a.log(2, "warn", { event: "fence", entity: effect.entity, pid: effect.pid }, `${effect.entity}: killing pid ${effect.pid} (SIGKILL) before another member serves`);
        if (!a.fence(effect.pid, effect.startTime)) {
          a.log(1, "error", { event: "fence-failed", entity: effect.entity, pid: effect.pid },
            `${effect.entity}: pid ${effect.pid} could not be killed; no other member of its group is made active until its death is seen`);
        }
        return;
      case "assign":
        a.assign(effect.token, { group: effect.group, entity: effect.entity, role: effect.role, seq: effect.seq }, effect.leased === true);
        return;
      case "campaign":
        a.campaign?.(effect.group, effect.member);
        return;
      case "resign":
        a.resign?.(effect.group, effect.token, effect.yielded === true);
        return;
      case "probe-start":
        a.probeStart?.(effect.entity, effect.pid, effect.probes);
        return;
      case "probe-stop":
        a.probeStop?.(effect.entity);
        return;
      case "ready":
        this.events.push({ kind: "entity-ready", at: this.at(), entity: effect.entity });
        return;
    }
  }

  private spawn(entity: string, line: string, token: string, cause: SpawnCause, notifyFd: number | null): void {
    const a = this.adapters;
    let pid = 0;
    const notify = notifyFd === null ? undefined : { fd: notifyFd, onReady: () => this.dispatch({ kind: "entity-ready", at: this.at(), entity, pid }) };
    try {
      const spawned = a.spawn(entity, line, { ...a.childEnv(entity), ...spawnEnv(token) }, (exit) => this.dispatch({
        kind: "died", at: this.at(), entity, pid, abnormal: exit.abnormal, reason: exit.description, clean: exit.code === 0 && exit.signal === null,
      }), notify);
      pid = spawned.pid;
      if (cause.kind !== "config") a.failPoint(cause.kind === "restart" ? "after-restart-spawn" : "after-attach-spawn", entity);
      this.events.push({ kind: "spawned", at: this.at(), entity, token, pid, startTime: spawned.startTime, cause });
    } catch (error) {
      const code = error instanceof HamError ? error.code : "EIO";
      const message = error instanceof Error ? error.message.replace(/^[A-Z]+: /, "") : String(error);
      this.events.push({ kind: "spawn-failed", at: this.at(), entity, token, code, error: message, cause });
    }
  }

  private answer(firing: number, ok: boolean): void {
    this.events.push({ kind: "action-done", at: this.at(), firing, ok });
  }
}
