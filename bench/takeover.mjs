// Guardian takeover: SIGKILL of the HAM → first API call answered by the new HAM (through a
// session that was connected before the kill: it reconnects and resends by itself), over
// ≥ 20 kills with 50 entities attached; an entity killed together with the HAM → its
// replacement running; the Guardian's RSS. Baselines from the same run: a cold `ham` start
// to its first answer, and the restart latency of the same entity with no takeover.
// Also the state's costs in-process: one journal append per mutation, and a compaction of
// 10,000 entities (3 conditions × 3 actions) with the longest event-loop block it causes.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { killAll, mb, ms, now, openFifo, own, printTable, ratio, removeRunDir, rssBytes, ROOT, runDirFor, startHam, stats, tempDir, us, waitFor, HAM_BIN } from "./lib.mjs";

const KILLS = 25;

async function statusOf(session) {
  return session.request("status", {});
}

export async function coldStart(runs) {
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const runDir = runDirFor("cold");
    const t0 = now();
    const child = spawn(HAM_BIN, ["--foreground", "--no-mount", "--run-dir", runDir, "-f", join(runDir, "log")], {
      stdio: "ignore", env: { ...process.env, HAM_RUN_DIR: runDir },
    });
    own(child.pid);
    const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
    await waitFor(async () => {
      try {
        const session = await Session.open(runDir);
        await session.request("status", {});
        session.close();
        return true;
      } catch {
        return false;
      }
    }, 10_000, "a cold HAM");
    samples.push(now() - t0);
    child.kill("SIGTERM");
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5_000, "cold HAM exit");
    await removeRunDir(runDir);
  }
  return stats(samples);
}

async function guardianReady(session) {
  return waitFor(async () => {
    const status = await statusOf(session);
    return status.guardianPid > 0 ? status : null;
  }, 10_000, "the Guardian");
}

async function compactionFigures() {
  const { newEntity } = await import(join(ROOT, "dist/ham/core/state.js"));
  const { conditionValue, entityValue } = await import(join(ROOT, "dist/ham/daemon/records.js"));
  const { StateStore } = await import(join(ROOT, "dist/ham/adapters/store.js"));
  const entities = [];
  for (let i = 0; i < 10_000; i += 1) {
    const base = newEntity(`e${i}`, "attached", Date.now());
    const conditions = new Map();
    for (const [type, cname] of [[1, "death"], [2, "abnormal"], [5, "restart"]]) {
      const actions = new Map();
      for (const [aname, spec] of [["log", { kind: "log", message: `e${i} ${cname}`, prefix: true, verbosity: 1 }],
        ["report", { kind: "execute", line: `/bin/true e${i} ${cname}` }], ["tell", { kind: "signal", pid: 1, signal: 10, code: 0, value: 0 }]]) {
        actions.set(aname, { name: aname, id: i, spec, flags: 0, enabled: true, runs: 0, failures: 0, fails: null });
      }
      conditions.set(cname, { name: cname, type, filter: { kind: "plain" }, flags: 0, enabled: true, fired: 0, order: 1, actions });
    }
    entities.push({ ...base, spec: { ...base.spec, command: `/usr/bin/worker --id ${i}` }, run: { ...base.run, pid: 100_000 + i }, conditions });
  }
  const dir = tempDir("compact");
  const store = new StateStore(dir);
  store.open(null);
  // Journal append: one entity record per mutation, as the HAM writes it; baseline: the
  // same bytes written with no JSON and no checksum.
  const { encodeRecord } = await import(join(ROOT, "dist/lib/store/format.js"));
  const { writeSync, openSync, closeSync } = await import("node:fs");
  const appends = [];
  for (let i = 0; i < 5_000; i += 1) {
    const entity = entities[i % entities.length];
    const t0 = performance.now();
    // A ham_condition: the condition, its entity, and the reply.
    const condition = entity.conditions.get("death");
    store.commit({ [`e/${entity.name}`]: entityValue(entity), [`c/${entity.name}/death`]: conditionValue(condition), "r/token/1": { r: 0 } }, undefined);
    appends.push(performance.now() - t0);
  }
  const raw = encodeRecord({ q: 1, set: { [`e/${entities[0].name}`]: entityValue(entities[0]), [`c/${entities[0].name}/death`]: conditionValue(entities[0].conditions.get("death")), "r/token/1": { r: 0 } } });
  const fd = openSync(join(dir, "raw"), "a");
  const rawTimes = [];
  for (let i = 0; i < 5_000; i += 1) {
    const t0 = performance.now();
    writeSync(fd, raw);
    rawTimes.push(performance.now() - t0);
  }
  closeSync(fd);
  // Compaction, with a 1 ms ticker measuring how late the event loop runs it.
  let last = performance.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const at = performance.now();
    worstGap = Math.max(worstGap, at - last - 1);
    last = at;
  }, 1);
  const keys = ["m"];
  const byName = new Map(entities.map((entity) => [entity.name, entity]));
  for (const entity of entities) {
    keys.push(`e/${entity.name}`);
    for (const name of entity.conditions.keys()) keys.push(`c/${entity.name}/${name}`);
  }
  const compaction = await store.compact(() => keys, (key) => {
    if (key === "m") return { note: "meta" };
    const [kind, ename, cname] = key.split("/");
    const entity = byName.get(ename);
    return kind === "e" ? entityValue(entity) : conditionValue(entity.conditions.get(cname));
  });
  clearInterval(ticker);
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { append: stats(appends), raw: stats(rawTimes), recordBytes: raw.length, compaction, worstGap };
}

export async function takeoverFigures() {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const cold = await coldStart(7);
  const dir = tempDir("takeover");
  const fifo = openFifo(dir, "victim.fifo");
  const ham = await startHam();
  const session = await Session.open(ham.runDir);
  try {
    await api.ham_connect(0);
    for (let i = 0; i < 50; i += 1) {
      const entity = await api.ham_attach(`idle${i}`, 0, -1, "/bin/sleep 100000", 0);
      const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
      await api.ham_action_restart(death, "restart", "/bin/sleep 100000", api.HREARMAFTERRESTART);
    }
    const line = `/bin/sh -c "echo $$ > ${fifo.path}; exec sleep 100000"`;
    const victim = await api.ham_attach("victim", 0, -1, line, 0);
    await api.ham_entity_policy(victim, { minUptimeMs: 0 });
    const death = await api.ham_condition(victim, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
    await api.ham_action_restart(death, "restart", line, api.HREARMAFTERRESTART);
    let victimPid = own(Number((await fifo.next()).text));

    // Restart with no takeover (baseline for the next figure).
    const plain = [];
    for (let i = 0; i < 10; i += 1) {
      const t0 = now();
      process.kill(victimPid, "SIGKILL");
      const next = await fifo.next();
      plain.push(next.at - t0);
      victimPid = own(Number(next.text));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const takeovers = [];
    const withDeath = [];
    let guardianRss = 0;
    for (let round = 0; round < KILLS; round += 1) {
      const before = await guardianReady(session);
      if (round === 0) guardianRss = rssBytes(before.guardianPid);
      own(before.guardianPid);
      const killVictim = round % 2 === 1;
      const t0 = now();
      process.kill(before.hamPid, "SIGKILL");
      if (killVictim) process.kill(victimPid, "SIGKILL");
      // The first API call after the kill, through the session connected before it.
      const status = await statusOf(session).catch((error) => {
        throw new Error(`round ${round}: ${error.message}; log: ${ham.logLines().slice(-4).map((l) => l.msg).join(" | ")}`);
      });
      const answered = now();
      if (status.hamPid === before.hamPid) throw new Error("answered by the killed HAM");
      takeovers.push(answered - t0);
      if (killVictim) {
        const next = await fifo.next(10_000);
        withDeath.push(next.at - t0);
        victimPid = own(Number(next.text));
      }
    }
    const final = await guardianReady(session);
    own(final.hamPid);
    const take = stats(takeovers);
    const died = stats(withDeath);
    const base = stats(plain);
    const costs = await compactionFigures();
    printTable(`Takeover: ${KILLS} SIGKILLs of the HAM with ${final.entities} entities (hamFailures ${final.hamFailures})`, [
      ["cold `ham` start → first answer (baseline)", `p50 ${ms(cold.p50)}  p99 ${ms(cold.p99)}  (${cold.n} starts)`],
      ["SIGKILL → first API call answered", `p50 ${ms(take.p50)}  p90 ${ms(take.p90)}  p99 ${ms(take.p99)}  max ${ms(take.max)} (goal p50 ≤ 30, p99 ≤ 100; ${ratio(take.p50, cold.p50)} of a cold start)`],
      ["restart, no takeover (baseline)", `p50 ${ms(base.p50)}  max ${ms(base.max)}`],
      ["entity killed with the HAM → replacement running", `p50 ${ms(died.p50)}  max ${ms(died.max)}  (${died.n} rounds)`],
      ["Guardian RSS", mb(guardianRss)],
      ["journal append per mutation (entity + condition + reply)", `p50 ${us(costs.append.p50)}  p99 ${us(costs.append.p99)}  (${costs.recordBytes} B; bare write of the same bytes p50 ${us(costs.raw.p50)})`],
      ["compaction of 10,000 entities × 3 conditions", `${Math.round(costs.compaction.wallMs)} ms, ${mb(costs.compaction.bytes)}; longest step ${ms(costs.compaction.longestStepMs)}, worst 1 ms-ticker delay ${ms(costs.worstGap)}`],
    ]);
    await api.ham_disconnect(0);
    return { take, died, base, cold, guardianRss, costs };
  } finally {
    session.close();
    killAll();
    await ham.stop();
    fifo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
