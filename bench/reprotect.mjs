// Re-protection after a takeover: SIGKILL of the HAM (50 entities) → (a) the first API call
// answered by the new HAM, through a session connected before the kill (the takeover, as in
// takeover.mjs), then (b) from that answer until `status` shows a new Guardian ready (a
// non-zero guardianPid other than the one before the kill, which is now the HAM), polled every
// 2 ms through the same session. Until then a second SIGKILL would lose the HAM for good.
// Baseline from the same run: a cold start by the `ham` bin (launch → it returns → the first
// `status` answered through a new session).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { HAM_BIN, killRunDir, ms, now, own, printTable, ratio, removeRunDir, ROOT, runDirFor, startHam, startTimeOf, stats, waitFor } from "./lib.mjs";

const KILLS = 20;
const COLD_STARTS = 7;
const ENTITIES = 50;
const POLL_MS = 2;
// A re-protection slower than this counts as this (the Guardian is then waited for longer).
const CAP_MS = 10_000;

const sleep = (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs));
const statusOf = (session) => session.request("status", {});

// `ham --run-dir D --no-mount` as a user types it: it returns once the daemon answers.
function runHamBin(runDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(HAM_BIN, ["--no-mount", "--run-dir", runDir], {
      stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, HAM_RUN_DIR: runDir },
    });
    own(child.pid);
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ham --run-dir ${runDir} exited ${code}`))));
  });
}

async function coldStarts(Session, runs) {
  const returned = [];
  const answered = [];
  for (let i = 0; i < runs; i += 1) {
    const runDir = runDirFor("cold");
    const t0 = now();
    await runHamBin(runDir);
    const t1 = now();
    const session = await Session.open(runDir);
    const status = await statusOf(session);
    const t2 = now();
    session.close();
    returned.push(t1 - t0);
    answered.push(t2 - t0);
    // SIGTERM stops it cleanly (its Guardian too); the state goes with the run directory.
    const startTime = startTimeOf(status.hamPid);
    own(status.hamPid);
    process.kill(status.hamPid, "SIGTERM");
    await waitFor(() => startTimeOf(status.hamPid) !== startTime, 5_000, "a cold HAM's exit");
    killRunDir(runDir);
    await removeRunDir(runDir);
  }
  return { returned: stats(returned), answered: stats(answered) };
}

// The next status showing a Guardian ready that is not `previousGuardian`, or null after `capMs`.
async function newGuardian(session, previousGuardian, capMs) {
  const deadline = now() + capMs;
  for (;;) {
    const status = await statusOf(session);
    if (status.guardianPid > 0 && status.guardianPid !== previousGuardian) return status;
    if (now() > deadline) return null;
    await sleep(POLL_MS);
  }
}

export async function reprotectFigures({ kills = KILLS } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const cold = await coldStarts(Session, COLD_STARTS);
  const ham = await startHam();
  const session = await Session.open(ham.runDir);
  try {
    await api.ham_connect_node(ham.runDir, 0);
    for (let i = 0; i < ENTITIES; i += 1) {
      const entity = await api.ham_attach_node(`idle${i}`, ham.runDir, -1, "/bin/sleep 100000", 0);
      const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
      await api.ham_action_restart(death, "restart", "/bin/sleep 100000", api.HREARMAFTERRESTART);
    }
    const takeovers = [];
    const reprotections = [];
    const totals = [];
    let readyAtAnswer = 0;
    let capped = 0;
    let before = await newGuardian(session, 0, CAP_MS);
    if (before === null) throw new Error("the first Guardian was not ready within 10 s");
    for (let round = 0; round < kills; round += 1) {
      own(before.guardianPid);
      const t0 = now();
      process.kill(before.hamPid, "SIGKILL");
      const first = await statusOf(session).catch((error) => {
        throw new Error(`round ${round}: ${error.message}; log: ${ham.logLines().slice(-4).map((l) => l.msg).join(" | ")}`);
      });
      const answered = now();
      if (first.hamPid === before.hamPid) throw new Error(`round ${round}: answered by the killed HAM`);
      takeovers.push(answered - t0);
      let ready = first.guardianPid > 0 && first.guardianPid !== before.guardianPid ? first : null;
      if (ready !== null) readyAtAnswer += 1;
      else ready = await newGuardian(session, before.guardianPid, CAP_MS);
      if (ready === null) {
        capped += 1;
        reprotections.push(CAP_MS);
        totals.push(now() - t0);
        ready = await newGuardian(session, before.guardianPid, 30_000);
        if (ready === null) throw new Error(`round ${round}: no new Guardian within 40 s of the takeover`);
      } else {
        const at = now();
        reprotections.push(at - answered);
        totals.push(at - t0);
      }
      own(ready.guardianPid);
      before = ready;
      await sleep(100);
    }
    const take = stats(takeovers);
    const reprotect = stats(reprotections);
    const total = stats(totals);
    const met = reprotect.p50 <= cold.answered.p50;
    printTable(`Re-protection: ${kills} SIGKILLs of the HAM with ${before.entities} entities (hamFailures ${before.hamFailures})`, [
      ["cold `ham` start: launch → `ham` returns", `p50 ${ms(cold.returned.p50)}  p99 ${ms(cold.returned.p99)}  (${cold.returned.n} starts)`],
      ["cold `ham` start: launch → first answer (baseline)", `p50 ${ms(cold.answered.p50)}  p99 ${ms(cold.answered.p99)}`],
      ["takeover: SIGKILL → first API call answered", `p50 ${ms(take.p50)}  p90 ${ms(take.p90)}  p99 ${ms(take.p99)}  max ${ms(take.max)}`],
      ["re-protection: takeover answered → new Guardian ready", `p50 ${ms(reprotect.p50)}  p90 ${ms(reprotect.p90)}  p99 ${ms(reprotect.p99)}  max ${ms(reprotect.max)}` +
        `  (ready at the first answer ${readyAtAnswer} of ${kills}${capped > 0 ? `; ${capped} over ${CAP_MS / 1000} s, counted as ${CAP_MS / 1000} s` : ""})`],
      ["SIGKILL → new Guardian ready", `p50 ${ms(total.p50)}  max ${ms(total.max)}`],
      ["re-protection p50 / cold start p50", `${ratio(reprotect.p50, cold.answered.p50)} (goal ≤ 1×: ${met ? "met" : "NOT met"})`],
    ]);
    await api.ham_disconnect_node(ham.runDir, 0).catch(() => undefined);
    return { cold, take, reprotect, total };
  } finally {
    session.close();
    await ham.stop();
  }
}
