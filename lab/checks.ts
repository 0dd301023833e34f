import { existsSync, readFileSync } from "node:fs";
import { checkGroup } from "./group-checks.js";
import { REPROTECT_LIMIT_MS, sleep, type Run } from "./run.js";

// The invariants, checked at every quiet moment (after a burst of faults) and at the end.
// Each check counts once; each failure is a violation naming the step it followed.

export async function checkQuietMoment(run: Run): Promise<void> {
  run.quietMoments += 1;
  if (!(await checkProtected(run))) return;
  const paused = (await run.mutator?.pause(15_000)) ?? true;
  try {
    await checkProcesses(run);
    await checkClients(run);
    if (paused) await checkMutations(run);
    else run.violate("no mutation lost", "the mutator's request did not end within 15 s");
    await checkCounters(run);
    await checkConfig(run);
    await checkGroup(run);
  } finally {
    run.mutator?.resume();
  }
}

const backingOff = (fields: ReadonlyMap<string, string> | undefined) => Number.parseInt(fields?.get("Backoff") ?? "0", 10) > 0;

const check = (run: Run, ok: boolean, invariant: string, detail: () => string): boolean => {
  run.checks += 1;
  if (!ok) run.violate(invariant, detail());
  return ok;
};

// A HAM answers, and a ready Guardian (its child) stands behind it, within 1 s of the last fault.
async function checkProtected(run: Run): Promise<boolean> {
  const probes: string[] = [];
  const protectedNow = async () => {
    const asked = run.now();
    const status = await run.system.status(500);
    const guardian = status === null ? 0 : run.system.guardianOf(status.hamPid);
    if (probes.length < 60) probes.push(`${new Date().toISOString().slice(11, 23)} ${Math.round(asked)}+${Math.round(run.now() - asked)}:${status?.hamPid ?? "-"}/${status?.guardianPid ?? "-"}/${guardian}`);
    return status !== null && status.guardianPid > 0 && guardian === status.guardianPid;
  };
  const deadline = run.lastFaultEndMs + REPROTECT_LIMIT_MS;
  const inTime = await run.until(protectedNow, Math.max(0, deadline - run.now()), 10);
  if (check(run, inTime, "HAM protected", () => `no HAM with a ready Guardian ${REPROTECT_LIMIT_MS} ms after the last fault`)) return true;
  const late = await run.until(protectedNow, 15_000, 20);
  if (process.env["LAB_DEBUG"] !== undefined) process.stderr.write(`unprotected: last fault at ${Math.round(run.lastFaultEndMs)} ms; probes ${probes.join(" ")}\n`);
  if (late) {
    run.violate("HAM protected", `protected again only ${Math.round(run.now() - run.lastFaultEndMs)} ms after the last fault`);
    return true;
  }
  const status = await run.system.status(500);
  run.violate("HAM protected", status === null ? "the HAM is lost: nothing answers on its socket 16 s after the last fault"
    : `the HAM (pid ${status.hamPid}) has had no ready Guardian for 16 s`);
  run.lost = status === null;
  return false;
}

// Every entity with a restart action has exactly one live process, the one the HAM names;
// no process the HAM started is left unwatched.
async function checkProcesses(run: Run): Promise<void> {
  const restartable = [...run.load.restartable, ...(run.load.group?.members ?? []), ...(run.options.mount ? ["hamfs"] : [])];
  const judge = async () => {
    const processes = run.system.processes();
    const wrong: string[] = [];
    for (const name of restartable) {
      const info = await run.system.entity(name);
      const live = processes.get(name) ?? [];
      processes.delete(name);
      const named = info?.pid ?? 0;
      if (live.length === 1 && live[0] === named) continue;
      // The crash-looping entity, or one killed soon after its start, may be waiting out a backoff.
      if (live.length === 0 && named === 0 && (name === run.load.flapper || backingOff(info?.fields))) continue;
      wrong.push(`${name}: the HAM names pid ${named}, live processes [${live.join(", ")}]`);
    }
    for (const [name, pids] of processes) {
      const info = await run.system.entity(name);
      if (info === null || pids.length !== 1 || pids[0] !== info.pid) wrong.push(`${name}: live processes [${pids.join(", ")}] the HAM does not name (it names ${info?.pid ?? "no such entity"})`);
    }
    return wrong;
  };
  let wrong = await judge();
  const deadline = run.now() + 3_000;
  while (wrong.length > 0 && run.now() < deadline) {
    await sleep(50);
    wrong = await judge();
  }
  run.checks += restartable.length;
  for (const detail of wrong) run.violate("one process per entity", detail);
}

// Every self-attached client is still attached (its entity names its pid) and no
// missed-heartbeat condition fired for it: it never stopped beating.
async function checkClients(run: Run): Promise<void> {
  for (const beater of run.beaters) {
    const info = await run.system.entity(beater.name);
    check(run, info !== null && info.pid === beater.child.pid, "clients attached",
      () => `${beater.name} (pid ${beater.child.pid}): the HAM names pid ${info?.pid ?? "none (no such entity)"}`);
    // The count only grows: each new firing is one violation, not one at every later check.
    const missed = Number(info?.fields.get("Missed Low") ?? 0) + Number(info?.fields.get("Missed High") ?? 0);
    const fresh = missed - beater.missedSeen;
    beater.missedSeen = Math.max(beater.missedSeen, missed);
    check(run, fresh <= 0, "no false missed heartbeat", () => `${beater.name} kept beating, yet ${fresh} more missed-heartbeat conditions fired (${missed} in all)`);
    check(run, beater.errors.length === 0, "clients attached", () => `${beater.name} said: ${beater.errors.splice(0).join("; ")}`);
  }
}

// No acknowledged mutation is lost and none is applied twice: an acknowledged entity exists,
// a detached one does not, and its raise condition fired as often as raises were acknowledged
// (no fewer) and sent (no more).
async function checkMutations(run: Run): Promise<void> {
  const mutator = run.mutator;
  if (mutator === null) return;
  for (const [name, booked] of mutator.booked) {
    if (booked.uncertain) continue;
    const text = await run.system.cat(`/${name}/raised/.info`);
    if (!check(run, (text !== null) === booked.exists, "no mutation lost",
      () => `${name}: ${booked.exists ? "created (acknowledged) but missing" : "detached (acknowledged) but present"}`)) continue;
    if (!booked.exists) {
      mutator.booked.delete(name);
      continue;
    }
    const fired = Number(/Times Fired *: (\d+)/.exec(text ?? "")?.[1] ?? -1);
    check(run, fired >= booked.raisesAcked && fired <= booked.raisesSent, "no mutation lost or applied twice",
      () => `${name}: its raise condition fired ${fired} times; ${booked.raisesAcked} raises acknowledged, ${booked.raisesSent} sent`);
  }
}

// hamFailures, guardianFailures and each entity's deaths and restarts agree with the faults.
async function checkCounters(run: Run): Promise<void> {
  const status = await run.system.status(1_000);
  if (status === null) return;
  check(run, status.hamFailures === run.hamDeaths, "counters agree", () => `Ham Failures ${status.hamFailures}, HAM deaths caused ${run.hamDeaths}`);
  check(run, status.guardianFailures === run.guardianDeaths, "counters agree", () => `Guardian Failures ${status.guardianFailures}, Guardian deaths caused ${run.guardianDeaths}`);
  for (const name of run.load.restartable) {
    if (name === run.load.flapper || !run.load.countDeaths) continue;
    const info = await run.system.entity(name);
    const kills = run.kills.get(name) ?? 0;
    const deaths = Number(info?.fields.get("Num Deaths") ?? -1);
    const restarts = Number(info?.fields.get("Num Restarts") ?? -1);
    // A restart still waiting out its backoff is not counted yet.
    const pending = info?.pid === 0 && backingOff(info.fields) ? 1 : 0;
    check(run, deaths === kills && restarts === kills - pending, "counters agree",
      () => `${name}: ${kills} SIGKILLs, Num Deaths ${deaths}, Num Restarts ${restarts}${pending === 1 ? " (one waiting out its backoff)" : ""}`);
  }
  if (run.load.staged !== null) {
    const kills = run.kills.get(run.load.staged) ?? 0;
    const markCount = () => !existsSync(run.marksFile) ? 0 : readFileSync(run.marksFile, "utf8").split("\n").filter(Boolean).length;
    // Its recovery ends 300 ms (the waitfor) after its restart.
    await run.until(() => markCount() >= kills, 3_000, 20);
    const marks = markCount();
    check(run, marks === kills, "each recovery step once", () => `${run.load.staged}: killed ${kills} times, its execute step ran ${marks} times`);
  }
}

// The HAM runs what the config file says now (edits made during a takeover included).
async function checkConfig(run: Run): Promise<void> {
  const expected = run.extras.join(",");
  const present = async () => ((await run.system.names()) ?? []).filter((name) => name.startsWith("lab-extra-")).sort().join(",");
  const seen = await run.until(async () => ((await present()) === expected ? "same" : ""), 2_000, 50);
  const now = seen === "same" ? expected : await present();
  check(run, seen === "same", "config applied", () => `the config file has [${expected}], the HAM has [${now}]`);
}
