// Service groups: how long the group is without an active member after its active is killed
// (SIGKILL → the standby's callback has made it active), against a cold restart of the same
// program by the same HAM in the same run (SIGKILL → restarted and ready); and how long a
// graceful switchover takes (request → the old active acknowledged standby). Kills interleave.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { killAll, ms, now, openFifo, own, printTable, ratio, ROOT, startHam, stats, tempDir, waitFor } from "./lib.mjs";

const WARMUP = 3;

export async function groupFigures({ kills = 30, switchovers = 30 } = {}) {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const dir = tempDir("groups");
  const fifo = openFifo(dir, "members.fifo");
  const line = `${process.execPath} ${join(ROOT, "bench/group-member.mjs")} ${fifo.path}`;
  const entity = (name) => ({
    name, command: line, policy: { minUptimeMs: 0 },
    conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
  });
  const config = join(dir, "groups.json");
  writeFileSync(config, JSON.stringify({
    entities: [entity("a"), entity("b"), entity("cold")],
    groups: [{ name: "g", model: "2N", members: ["a", "b"] }],
  }));
  const ham = await startHam(["--config", config]);
  const heard = [];
  const listen = async () => {
    for (;;) {
      const next = await fifo.next(60_000).catch(() => null);
      if (next === null) return;
      const [pid, text] = next.text.split(" ");
      heard.push({ pid: Number(pid), text, at: next.at });
      for (const waiter of [...waiters]) waiter();
    }
  };
  const waiters = new Set();
  const hear = (match, timeoutMs = 10_000) => new Promise((resolve, reject) => {
    const check = () => {
      const found = heard.find(match);
      if (found === undefined) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error("no member said it in time"));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
  void listen();
  const session = await import(join(ROOT, "dist/lib/client/session.js"));
  const probe = await session.Session.open(ham.runDir);
  const group = async () => ((await probe.request("status", {})).groups ?? []).find((item) => item.name === "g");
  const pidOf = async (name) => own(Number(/Entity Pid *: (\d+)/.exec(String(await probe.request("cat", { path: `/${name}/.info` })))?.[1] ?? 0));
  // Both roles acknowledged (and the old active, restarted, back as standby).
  const settled = () => waitFor(async () => {
    const now = await group();
    return now?.active.length === 1 && now.standby.length === 1 && now.members.every((member) => member.assigning === null) ? now : null;
  }, 15_000, "an active and a standby");
  try {
    await pidOf("cold");
    await hear((item) => item.text === "ready");
    const failover = [];
    const cold = [];
    for (let round = 0; round < kills + WARMUP; round += 1) {
      const before = await settled();
      const victim = await pidOf(before.active[0]);
      const standby = await pidOf(before.standby[0]);
      const from = heard.length;
      const t0 = now();
      process.kill(victim, "SIGKILL");
      const active = await hear((item, index) => index >= from && item.pid === standby && item.text === "active");
      if (round >= WARMUP) failover.push(active.at - t0);
      await settled();
      const coldPid = await pidOf("cold");
      const coldFrom = heard.length;
      const t1 = now();
      process.kill(coldPid, "SIGKILL");
      const ready = await hear((item, index) => index >= coldFrom && item.pid !== coldPid && item.text === "ready");
      if (round >= WARMUP) cold.push(ready.at - t1);
      await waitFor(async () => (await pidOf("cold")) === ready.pid, 5_000, "cold restarted");
    }
    const switching = [];
    const newActive = [];
    for (let round = 0; round < switchovers + WARMUP; round += 1) {
      const before = await settled();
      const standby = await pidOf(before.standby[0]);
      const from = heard.length;
      const t0 = now();
      const started = await probe.request("group_switchover", { gname: "g" });
      const active = await hear((item, index) => index >= from && item.pid === standby && item.text === "active");
      const done = await waitFor(async () => {
        const now = await group();
        return (now?.switchovers ?? 0) >= started.switchover ? now : null;
      }, 10_000, "switchover done");
      if (round >= WARMUP) {
        newActive.push(active.at - t0);
        switching.push(done.lastSwitchoverMs);
      }
    }
    const f = stats(failover);
    const c = stats(cold);
    const s = stats(switching);
    const n = stats(newActive);
    printTable(`Service group (2N): active SIGKILLed → standby active (${kills} kills), against a cold restart of the same program`, [
      ["cold restart by the HAM (SIGKILL → ready)", `p50 ${ms(c.p50)}  p99 ${ms(c.p99)}`],
      ["failover (SIGKILL → standby's callback done)", `p50 ${ms(f.p50)}  p99 ${ms(f.p99)}`],
      ["failover / cold restart, median", `${ratio(f.p50, c.p50)} (goal ≤ 0.1×)`],
      [`switchover, request → new active's callback (${switchovers})`, `p50 ${ms(n.p50)}  p99 ${ms(n.p99)}`],
      ["switchover, request → done (4 acknowledged steps, the HAM's figure)", `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}`],
    ]);
    return { failover: f, cold: c, switchover: s };
  } finally {
    probe.close();
    killAll();
    await ham.stop();
    fifo.close();
  }
}
