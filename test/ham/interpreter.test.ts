import { describe, expect, it } from "vitest";
import * as Q from "../../dist/lib/index.js";
import { Interpreter, type Adapters } from "../../dist/ham/daemon/interpreter.js";
import { initialState } from "../../dist/ham/core/state.js";
import { describeExit, type ExitInfo } from "../../dist/ham/adapters/processes.js";
import type { Clock, Timers } from "../../dist/ham/adapters/clock.js";

// The interpreter with its Clock and Timers injected: a manual clock and manual timers, and
// adapters that record what they were asked. What the daemon wires to the OS (ham/daemon/ham.ts)
// is the same interface, so this is the order of operations a real HAM performs.

class ManualClock implements Clock {
  wallMs = 1_700_000_000_000;
  monoMs = 10_000;
  wall(): number {
    return this.wallMs;
  }
  mono(): number {
    return this.monoMs;
  }
}

class ManualTimers implements Timers {
  readonly armed = new Map<string, number>();
  onFire: (id: string) => void = () => undefined;
  constructor(private readonly clock: ManualClock) {}
  arm(id: string, at: number): void {
    this.armed.set(id, at);
  }
  cancel(id: string): void {
    this.armed.delete(id);
  }
  stop(): void {
    this.armed.clear();
  }
  advance(ms: number): void {
    const end = this.clock.monoMs + ms;
    for (;;) {
      const due = [...this.armed].filter(([, at]) => at <= end).sort((a, b) => a[1] - b[1])[0];
      if (due === undefined) break;
      this.clock.wallMs += due[1] - this.clock.monoMs;
      this.clock.monoMs = due[1];
      this.armed.delete(due[0]);
      this.onFire(due[0]);
    }
    this.clock.wallMs += end - this.clock.monoMs;
    this.clock.monoMs = end;
  }
}

function setUp() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const calls: string[] = [];
  const exits = new Map<number, (exit: ExitInfo) => void>();
  let nextPid = 500;
  const adapters: Adapters = {
    spawn: (_entity, line, env, onExit) => {
      const pid = nextPid++;
      exits.set(pid, onExit);
      calls.push(`spawn ${line} ${env["HAM_SPAWN"] ?? "-"}`);
      return { pid, startTime: 1 };
    },
    childEnv: (entity) => ({ HAM_ENTITY: entity }),
    signal: () => true,
    pulse: () => true,
    waitFor: async () => true,
    watchPid: (pid) => calls.push(`watch ${pid}`),
    unwatchPid: (pid) => calls.push(`unwatch ${pid}`),
    terminate: (pid) => calls.push(`terminate ${pid}`),
    log: (_verbosity, _level, fields) => calls.push(`log ${String(fields["event"])}`),
    setVerbosity: () => undefined,
    changed: (keys) => calls.push(`changed ${[...keys].sort().join(",")}`),
    persistNow: () => calls.push("persist"),
    bindSelf: () => undefined,
    unbindSelf: () => undefined,
    failPoint: () => undefined,
    recordReply: (to) => calls.push(`reply-recorded ${to.id}`),
    answerLater: () => undefined,
  };
  const interpreter = new Interpreter(initialState(1, 1, clock.wallMs), clock, timers, adapters);
  timers.onFire = (id) => interpreter.timerFired(id);
  const request = (op: string, args: Record<string, unknown>) => interpreter.request((ref, at) => ({
    kind: "request", at, ref, op, args, caller: { pid: 1, token: null }, pidStart: null,
  }));
  const kill = (pid: number) => exits.get(pid)?.(describeExit(null, "SIGKILL"));
  return { clock, timers, calls, interpreter, request, kill };
}

describe("the interpreter", () => {
  it("writes the spawn token before it spawns, and answers an attach once the spawn came back", () => {
    const { calls, request, interpreter } = setUp();
    expect(request("attach", { ename: "web", pid: -1, line: "/bin/web", flags: 0 })).toEqual({ ok: true, result: { ename: "web" } });
    const spawn = calls.findIndex((call) => call.startsWith("spawn /bin/web 1.1.web"));
    expect(spawn).toBeGreaterThan(0);
    expect(calls.slice(0, spawn)).toEqual(["changed e/web", "persist"]);
    expect(interpreter.state.entities.get("web")?.run.pid).toBe(500);
    expect(request("attach", { ename: "web", pid: -1, line: "/bin/web", flags: 0 })).toMatchObject({ ok: false, code: "EEXIST" });
  });

  it("backs off a quick death on its injected timers: nothing is spawned until the clock passes the backoff", () => {
    const { calls, request, timers, kill, interpreter } = setUp();
    request("attach", { ename: "flap", pid: -1, line: "/bin/flap", flags: 0 });
    request("policy", { ename: "flap", policy: { minUptimeMs: 1_000, backoffInitialMs: 250 } });
    request("condition", { ename: "flap", cname: "death", type: Q.CONDDEATH, flags: Q.HREARMAFTERRESTART });
    request("action", { ename: "flap", cname: "death", aname: "restart", kind: "restart", line: "/bin/flap", flags: Q.HREARMAFTERRESTART });
    calls.length = 0;
    kill(500);
    expect(calls.filter((call) => call.startsWith("spawn"))).toEqual([]);
    expect([...timers.armed.values()]).toEqual([10_250]);
    timers.advance(249);
    expect(calls.filter((call) => call.startsWith("spawn"))).toEqual([]);
    timers.advance(1);
    expect(calls.filter((call) => call.startsWith("spawn"))).toEqual(["spawn /bin/flap 1.2.flap"]);
    expect(interpreter.state.entities.get("flap")?.counters.restarts).toBe(1);
  });

  it("stops carrying out effects once stopped: a death after stop is the next HAM's business", () => {
    const { calls, request, kill, interpreter } = setUp();
    request("attach", { ename: "svc", pid: -1, line: "/bin/svc", flags: 0 });
    interpreter.stop();
    calls.length = 0;
    kill(500);
    expect(calls).toEqual([]);
    expect(interpreter.state.entities.get("svc")?.run.pid).toBe(500);
  });
});
