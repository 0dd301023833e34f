// Restart latency beside a crash loop: SIGKILL of a healthy entity → its replacement running,
// measured as restart.mjs measures it (the replacement writes its pid into a FIFO), while
// another entity of the same HAM crash-loops under the default restart policy (it exits 0.3 s
// after each start; its backoff doubles from 100 ms to 30 s) and has reached a backoff of
// several seconds. Baseline: the same entity in a second HAM of the same run with no crash
// loop, kills interleaved. A restart that takes longer than the cap counts as the cap.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ms, now, openFifo, own, printTable, ratio, ROOT, startHam, stats, tempDir, waitFor } from "./lib.mjs";

const WARMUP = 5;
const WAIT_CAP_MS = 40_000;
// A replacement later than the cap is still waited for this long before the entity is given up.
const LATE_MS = 60_000;
// Measuring starts once the flapper's backoff has reached this (after ≈ 8 s of flapping: its
// backoff is then 6.4 s, and 12.8 s, 25.6 s, 30 s after the next deaths).
const FLAP_BACKOFF_MS = 6_000;
const FLAPPER = `/bin/sh -c "sleep 0.3; exit 1"`;
// A restart slower than this was held up by the flapper (an unhindered one takes a few ms).
const HELD_UP_MS = 1_000;

const sleep = (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs));

// A plain CONDDEATH with a restart action, both re-armed after the restart.
async function restartOnDeath(api, entity, line) {
  const death = await api.ham_condition(entity, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
  await api.ham_action_restart(death, "restart", line, api.HREARMAFTERRESTART);
}

function flapperBackoffs(ham) {
  return ham.logLines().filter((line) => line.event === "backoff" && line.entity === "flapper").map((line) => line.delayMs);
}

// A healthy entity in `ham`, restarted at once however soon it dies (as in restart.mjs).
async function healthySubject(api, name, ham, fifo) {
  await api.ham_connect_node(ham.runDir, 0);
  const line = `/bin/sh -c "echo $$ > ${fifo.path}; exec sleep 100000"`;
  const entity = await api.ham_attach_node("healthy", ham.runDir, -1, line, 0);
  const pid = own(Number((await fifo.next()).text));
  await api.ham_entity_policy(entity, { minUptimeMs: 0 });
  await restartOnDeath(api, entity, line);
  return { name, ham, fifo, pid, samples: [], timeouts: 0, lost: false };
}

// One SIGKILL of the subject's process; returns how long until its replacement ran (the cap
// if later), or null when none came at all (the subject is then out of the measurement).
async function killOnce(subject) {
  const t0 = now();
  process.kill(subject.pid, "SIGKILL");
  const line = await subject.fifo.next(WAIT_CAP_MS).catch(() => null);
  if (line !== null) {
    subject.pid = own(Number(line.text));
    return line.at - t0;
  }
  subject.timeouts += 1;
  const late = await subject.fifo.next(LATE_MS).catch(() => null);
  if (late === null) subject.lost = true;
  else subject.pid = own(Number(late.text));
  return WAIT_CAP_MS;
}

export async function crashLoopFigures({ kills = 30 } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const dir = tempDir("crashloop");
  const fifos = [openFifo(dir, "baseline.fifo"), openFifo(dir, "loop.fifo")];
  const hams = [];
  try {
    hams.push(await startHam(), await startHam());
    const subjects = [
      await healthySubject(api, "baseline", hams[0], fifos[0]),
      await healthySubject(api, "crash loop", hams[1], fifos[1]),
    ];
    for (let round = 0; round < WARMUP; round += 1) {
      for (const subject of subjects) await killOnce(subject);
    }

    const loopHam = hams[1];
    const flapper = await api.ham_attach_node("flapper", loopHam.runDir, -1, FLAPPER, 0);
    await restartOnDeath(api, flapper, FLAPPER);
    const flapStart = now();
    await waitFor(() => flapperBackoffs(loopHam).some((delay) => delay >= FLAP_BACKOFF_MS), 60_000,
      `the flapper's backoff to reach ${FLAP_BACKOFF_MS} ms`);
    const flappedMs = now() - flapStart;
    const backoffAtStart = Math.max(...flapperBackoffs(loopHam));

    const measureStart = now();
    let heldUp = 0;
    for (let round = 0; round < kills; round += 1) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      let held = false;
      for (const subject of order) {
        if (subject.lost) continue;
        const sample = await killOnce(subject);
        subject.samples.push(sample);
        if (subject === subjects[1] && sample > HELD_UP_MS) held = true;
      }
      await sleep(50 + ((round * 97) % 200));
      if (!held) continue;
      // A kill held up until the flapper's release would make the next one land just as the
      // flapper starts its next backoff (the longest wait). Once that backoff has started,
      // wait a spread fraction of it, so kills sample the whole cycle as deaths at random
      // moments would (golden-ratio fractions: deterministic, so runs compare).
      heldUp += 1;
      await sleep(400);
      const backoff = flapperBackoffs(loopHam).at(-1) ?? 0;
      await sleep(((heldUp * 0.618034) % 1) * backoff);
    }
    const measuredMs = now() - measureStart;
    const backoffs = flapperBackoffs(loopHam);
    const [base, loop] = subjects.map((subject) => stats(subject.samples));
    const row = (s, subject) => `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (${s.n} kills` +
      `${subject.timeouts > 0 ? `, ${subject.timeouts} over the ${WAIT_CAP_MS / 1000} s cap, counted as the cap` : ""}` +
      `${subject.lost ? ", then no replacement at all: stopped" : ""})`;
    printTable(`Restart beside a crash loop: SIGKILL → replacement running (${kills} kills each, interleaved)`, [
      ["same entity, HAM with no crash loop (baseline)", row(base, subjects[0])],
      ["healthy entity, HAM with a crash-looping entity", row(loop, subjects[1])],
      ["crash loop / baseline", `p50 ${ratio(loop.p50, base.p50)}  p99 ${ratio(loop.p99, base.p99)}  max ${ratio(loop.max, base.max)}`],
      ["the crash loop", `flapped ${(flappedMs / 1000).toFixed(1)} s before the kills (backoff then ${backoffAtStart / 1000} s); ` +
        `${backoffs.length} backoffs in all, last ${(backoffs.at(-1) ?? 0) / 1000} s; ` +
        `${subjects[1].samples.filter((sample) => sample > HELD_UP_MS).length} kills held up > ${HELD_UP_MS / 1000} s; kills took ${(measuredMs / 1000).toFixed(1)} s`],
    ]);
    for (const ham of hams) await api.ham_disconnect_node(ham.runDir, 0).catch(() => undefined);
    return { base, loop };
  } finally {
    for (const ham of hams) await ham.stop();
    for (const fifo of fifos) fifo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
