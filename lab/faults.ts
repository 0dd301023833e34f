import { readStartTime } from "../lib/proc.js";
import { activeAndHam, brokenSwitchover, fatalActive, killActive, switchover } from "./group-faults.js";
import { monoMs, TAKEOVER_ALLOWANCE_MS } from "./group-watch.js";
import { sleep, type Run } from "./run.js";

// The faults the lab injects, each at a random moment: kills of every part of the HAM
// (alone, together, during a takeover, while a Guardian starts, mid-recovery), a hang, a
// config edit; the service group's active killed, failed by a fatal fault, beside a HAM
// death, or switched over (group-faults.ts). Each returns a short description of what it did, or null if it had nothing
// to act on (a skipped fault is not counted).

export const FAULT_WEIGHTS = {
  "kill-entity": 30,
  "kill-ham": 10,
  "kill-guardian": 7,
  "kill-hamfs": 3,
  "kill-ham-and-entity": 6,
  "kill-ham-after-takeover": 6,
  "kill-ham-guardian-starting": 6,
  "kill-ham-mid-recovery": 5,
  "hang-ham": 5,
  "edit-config": 6,
  "kill-active": 6,
  "fatal-active": 5,
  "kill-active-and-ham": 4,
  "switchover": 3,
  "switchover-broken": 3,
} as const;

export type FaultKind = keyof typeof FAULT_WEIGHTS;

type Fault = (run: Run) => Promise<string | null>;

const victim = (run: Run): string | null => {
  const names = run.load.restartable.filter((name) => name !== run.load.flapper);
  return names.length === 0 ? null : run.random.pick(names);
};

export const FAULTS: Readonly<Record<FaultKind, Fault>> = {
  "kill-entity": async (run) => {
    const name = victim(run);
    return name !== null && (await run.killEntity(name)) ? name : null;
  },

  "kill-ham": async (run) => {
    const pid = await run.killHam();
    return pid === 0 ? null : `HAM ${pid}`;
  },

  "kill-guardian": async (run) => {
    const pid = await run.killGuardian();
    return pid === 0 ? null : `Guardian ${pid}`;
  },

  "kill-hamfs": async (run) => {
    if (!run.options.mount) return null;
    return (await run.killEntity("hamfs")) ? "hamfs" : null;
  },

  // Together, in either order: the entity dies while its HAM watches, or while none does.
  "kill-ham-and-entity": async (run) => {
    const name = victim(run);
    if (name === null) return null;
    if (run.random.next() < 0.5) {
      if (!(await run.killEntity(name))) return null;
      const pid = await run.killHam();
      return pid === 0 ? `${name} only` : `${name}, then HAM ${pid}`;
    }
    const info = await run.system.entity(name);
    const pid = await run.killHam();
    if (pid === 0) return null;
    const killed = info !== null && (await run.killEntity(name, info.pid));
    return `HAM ${pid}, then ${killed ? name : "no entity"}`;
  },

  // The HAM that just took over dies while its own new Guardian is still starting.
  "kill-ham-after-takeover": async (run) => {
    const first = await run.killHam();
    if (first === 0) return null;
    const next = await run.until(async () => {
      const status = await run.system.status(300);
      return status !== null && status.hamPid !== first ? status.hamPid : 0;
    }, 5_000, 1);
    if (next === 0) return `HAM ${first}; no HAM took over within 5 s`;
    await sleep(run.random.between(0, 20));
    const second = await run.killHam();
    return `HAM ${first}, then HAM ${second} ${second === 0 ? "(not killed)" : "right after it took over"}`;
  },

  // The Guardian dies; the HAM dies while the Guardian it forked instead is still starting.
  "kill-ham-guardian-starting": async (run) => {
    const ham = run.system.hamPid();
    const old = await run.killGuardian();
    if (old === 0) return null;
    const fresh = await run.until(() => {
      const pid = run.system.guardianOf(ham);
      return pid !== old ? pid : 0;
    }, 3_000, 1);
    if (fresh === 0) return `Guardian ${old}; the HAM forked no new one within 3 s`;
    await sleep(run.random.between(0, 60));
    const pid = await run.killHam();
    return `Guardian ${old}, then HAM ${pid} while Guardian ${fresh} started`;
  },

  // The HAM dies inside the multistage recovery restart → waitfor 300 ms → execute.
  "kill-ham-mid-recovery": async (run) => {
    const staged = run.load.staged;
    if (staged === null || !(await run.killEntity(staged))) return null;
    await sleep(run.random.between(0, 450));
    const pid = await run.killHam();
    return `${staged}, then HAM ${pid}`;
  },

  // SIGSTOP: a short hang must be waited out, a long one ended by the Guardian's watchdog.
  "hang-ham": async (run) => {
    const pid = run.system.hamPid();
    const startTime = readStartTime(pid);
    if (pid === 0 || run.system.guardianOf(pid) === 0 || !run.kill(pid, startTime, "SIGSTOP")) return null;
    run.hamFaultGeneration += 1;
    const limit = run.options.watchdogMs;
    const holdMs = run.random.next() < 0.5 ? run.random.between(100, limit * 0.6) : run.random.between(limit + 500, limit + 1_500);
    // A stopped HAM holds a failover up as long as it is stopped, then perhaps a takeover.
    run.hamFaults.push({ at: monoMs(), allowanceMs: holdMs + TAKEOVER_ALLOWANCE_MS });
    await sleep(holdMs);
    const survived = run.kill(pid, startTime, "SIGCONT");
    if (!survived) run.hamDeaths += 1;
    if (holdMs > limit && survived) run.violate("hang ended", `HAM ${pid} hung ${Math.round(holdMs)} ms (watchdog ${limit} ms) and was not ended`);
    if (holdMs < limit && !survived) run.violate("hang ended", `HAM ${pid} was ended after a hang of only ${Math.round(holdMs)} ms (watchdog ${limit} ms)`);
    return `HAM ${pid} stopped ${Math.round(holdMs)} ms${survived ? "" : ", ended by its Guardian"}`;
  },

  "edit-config": async (run) => {
    run.editConfig();
    return `extras now [${run.extras.join(", ")}]`;
  },

  "kill-active": (run) => killActive(run, "kill-active"),
  "fatal-active": (run) => fatalActive(run, "fatal-active"),
  "kill-active-and-ham": activeAndHam,
  "switchover": switchover,
  "switchover-broken": brokenSwitchover,
};
