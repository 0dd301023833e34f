// The /ham view at 10,000 entities × 3 conditions × 3 actions (placeholders: the view is
// about the tree, not the processes): `ls`, `ls -l`, `cat` of one .info, `find` over the
// whole tree, the fs process's RSS, and the delay from a HAM event to the file showing it.
// Baseline: the same commands on a real directory tree of the same shape in /dev/shm.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, mb, ms, now, printTable, rssBytes, ROOT, startHam, stats, tempDir, timeRun, waitFor } from "./lib.mjs";

const ENTITIES = Number(process.env.BENCH_ENTITIES ?? 10_000);
const CONCURRENCY = 64;
const RUNS = 5;

async function pool(count, task) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await task(next++);
  }));
}

async function times(file, args, runs = RUNS) {
  const samples = [];
  for (let i = 0; i < runs; i += 1) samples.push(await timeRun(file, args));
  return stats(samples);
}

function realTree(dir) {
  for (let i = 0; i < ENTITIES; i += 1) {
    const entity = join(dir, `e${i}`);
    mkdirSync(entity);
    writeFileSync(join(entity, ".info"), "x".repeat(450));
    for (const cname of ["death", "abnormal", "restart"]) {
      mkdirSync(join(entity, cname));
      writeFileSync(join(entity, cname, ".info"), "x".repeat(200));
      for (const aname of ["log", "report", "tell"]) writeFileSync(join(entity, cname, aname), "x".repeat(150));
    }
  }
}

export async function fsFigures() {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const base = join("/dev/shm", `hamd-bench-tree-${process.pid}`);
  mkdirSync(base);
  const ham = await startHam(["--mount", "{RUN_DIR}/ham"]);
  try {
    realTree(base);
    const mnt = join(ham.runDir, "ham");
    await api.ham_connect(0);
    await pool(ENTITIES, async (i) => {
      const entity = await api.ham_entity(`e${i}`, 0, 0);
      for (const [type, cname] of [[api.CONDDEATH, "death"], [api.CONDABNORMALDEATH, "abnormal"], [api.CONDRESTART, "restart"]]) {
        const condition = await api.ham_condition(entity, type, cname, 0);
        await api.ham_action_log(condition, "log", `e${i} ${cname}`, 1, 0, 0);
        await api.ham_action_execute(condition, "report", `/bin/true e${i} ${cname}`, 0);
        await api.ham_action_notify_signal(condition, "tell", 0, process.pid, "SIGUSR1", 0, 0, 0);
      }
    });
    const sleeper = await api.ham_attach("sleeper", 0, -1, "/bin/sleep 100000", 0);
    await api.ham_entity_policy(sleeper, { minUptimeMs: 0 });
    const death = await api.ham_condition(sleeper, api.CONDDEATH, "death", api.HREARMAFTERRESTART);
    await api.ham_action_restart(death, "restart", "/bin/sleep 100000", api.HREARMAFTERRESTART);
    await waitFor(() => readFileSync(join(mnt, ".info"), "utf8").includes(`Num Entities       : ${ENTITIES + 2}`), 30_000, "the mount");

    const lsMount = await times("ls", [mnt]);
    const lsBase = await times("ls", [base]);
    const llMount = await times("ls", ["-l", mnt]);
    const llBase = await times("ls", ["-l", base]);
    const catMount = await times("cat", [join(mnt, "e5000/.info")], 10);
    const catBase = await times("cat", [join(base, "e5000/.info")], 10);
    const findMount = await times("find", [mnt], 2);
    const findBase = await times("find", [base], 2);
    const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
    const session = await Session.open(ham.runDir);
    const fsInfo = String(await session.request("cat", { path: "/hamfs/.info" }));
    const fsPid = Number(/Entity Pid *: (\d+)/.exec(fsInfo)?.[1] ?? 0);
    const fsRss = rssBytes(fsPid);

    // A death → its restart counted in the mounted file, read every millisecond.
    const delays = [];
    for (let round = 1; round <= 10; round += 1) {
      const info = String(await session.request("cat", { path: "/sleeper/.info" }));
      const pid = Number(/Entity Pid *: (\d+)/.exec(info)?.[1] ?? 0);
      const t0 = now();
      process.kill(pid, "SIGKILL");
      await waitFor(async () => readFileSync(join(mnt, "sleeper/.info"), "utf8").includes(`Num Restarts    : ${round}\n`), 5_000, "the restart in the mount");
      delays.push(now() - t0);
    }
    session.close();
    const delay = stats(delays);
    printTable(`The /ham view at ${ENTITIES.toLocaleString("en")} entities × 3 conditions × 3 actions (baseline: the same shape as real files in /dev/shm)`, [
      ["ls of the root", `p50 ${ms(lsMount.p50)} (real dir ${ms(lsBase.p50)}; goal ≤ 50 ms)`],
      ["ls -l of the root", `p50 ${ms(llMount.p50)} (real dir ${ms(llBase.p50)}; goal ≤ 150 ms)`],
      ["cat of one .info", `p50 ${ms(catMount.p50)} (real file ${ms(catBase.p50)}; goal ≤ 5 ms)`],
      ["find over the whole tree", `${ms(findMount.p50)} (real tree ${ms(findBase.p50)})`],
      ["fs process RSS", mb(fsRss)],
      ["SIGKILL of an entity → its restart in the mounted .info", `p50 ${ms(delay.p50)}  max ${ms(delay.max)} (goal: within 100 ms of the event)`],
    ]);
    await api.ham_disconnect(0);
  } finally {
    killAll();
    await ham.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
