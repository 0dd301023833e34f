// Service groups across nodes (issue 17): a real 3-member etcd, two HAM nodes n1 and n2, a 2N
// group x = [m@n1, m@n2] and, as the baseline in the same run, a local 2N group l = [a, b] on n1.
//  - member death on a healthy node: SIGKILL of x's active → the other node's member active
//    (its callback done), against the same for l (today's single-node failover); kills interleave;
//  - switchover across nodes: a waited group_switchover asked on x's active node → the other
//    node's member active (its callback done), back and forth, against a local 2N switchover of
//    l (today's) in the same rounds;
//  - node death: SIGKILL of the active node's HAM, Guardian and members → the other node's member
//    active (goal ≤ TTL + 1 s = 3 s at TTL 2 s); the node is started again between rounds.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, ms, now, openFifo, own, printTable, ratio, removeRunDir, ROOT, startHam, stats, tempDir, waitFor } from "./lib.mjs";

const WARMUP = 2;

// Which etcd member leads, from etcd's JSON gateway; whether any of `endpoints` knows a leader.
async function memberStatus(url) {
  return (await fetch(`${url}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(500) })).json();
}
async function leaderIndex(endpoints) {
  for (const [index, url] of endpoints.entries()) {
    const answer = await memberStatus(url).catch(() => null);
    if (answer !== null && answer.header.member_id === answer.leader) return index;
  }
  throw new Error("no etcd member leads");
}
// Whether a member of `endpoints` knows a leader other than `old` (the killed one, which the
// others still name until their election timeout).
async function newLeader(endpoints, old) {
  for (const url of endpoints) {
    const answer = await memberStatus(url).catch(() => null);
    if (answer !== null && answer.leader !== undefined && answer.leader !== "0" && answer.leader !== old) return true;
  }
  return false;
}

export async function clusterGroupFigures({ kills = 20, switchovers = 10, nodeDeaths = 4, leaderKills = 5 } = {}) {
  const { EtcdCluster, etcdBinary } = await import(join(ROOT, "dist/lab/etcd-cluster.js"));
  if (etcdBinary() === null) throw new Error("no etcd here (apt-get install etcd-server)");
  const { pidsWithEnv } = await import(join(ROOT, "dist/lib/proc.js"));
  const { Session } = await import(join(ROOT, "dist/lib/client/session.js"));
  const dir = tempDir("cluster-groups");
  const fifo = openFifo(dir, "members.fifo");
  const line = `${process.execPath} ${join(ROOT, "bench/group-member.mjs")} ${fifo.path}`;
  const entity = (name) => ({
    name, command: line, policy: { minUptimeMs: 0 },
    conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
  });
  const etcd = await EtcdCluster.start(3);
  const hams = {};
  const start = async (node) => {
    const config = join(dir, `${node}.json`);
    const local = node === "n1" ? [entity("a"), entity("b")] : [];
    writeFileSync(config, JSON.stringify({
      entities: [entity("m"), ...local],
      groups: [{ name: "x", model: "2N", members: ["m@n1", "m@n2"] }, ...(node === "n1" ? [{ name: "l", model: "2N", members: ["a", "b"] }] : [])],
    }));
    // startHam leaves HAM_RUN_DIR set to the last HAM's: another node's HAM must not carry it
    // (killing "the processes of a run directory" would take it too).
    delete process.env.HAM_RUN_DIR;
    hams[node] = await startHam(["--node", node, "--etcd", etcd.endpoints.join(","), "--config", config]);
  };
  const heard = [];
  const waiters = new Set();
  void (async () => {
    for (;;) {
      const next = await fifo.next(600_000).catch(() => null);
      if (next === null) return;
      const [pid, text] = next.text.split(" ");
      heard.push({ pid: Number(pid), text, at: next.at });
      for (const waiter of [...waiters]) waiter();
    }
  })();
  const hear = (match, timeoutMs = 15_000) => new Promise((resolve, reject) => {
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
  const ask = async (node, op, args = {}, timeoutMs = 3_000) => {
    const session = await Session.open(hams[node].runDir);
    try {
      return await session.request(op, args, timeoutMs);
    } finally {
      session.close();
    }
  };
  const groupOn = async (node, name) => ((await ask(node, "status").catch(() => ({ groups: [] }))).groups ?? []).find((item) => item.name === name);
  const pidOf = async (node, name) => own(Number(/Entity Pid *: (\d+)/.exec(String(await ask(node, "cat", { path: `/${name}/.info` })))?.[1] ?? 0));
  const settled = (node, name) => waitFor(async () => {
    const group = await groupOn(node, name);
    return group !== undefined && group.members.every((member) => member.assigning === null && member.role !== null) ? group : null;
  }, 15_000, `${name} settled on ${node}`).catch(async (error) => {
    const now = await ask(node, "status").catch((failed) => String(failed));
    throw new Error(`${error.message}: ${JSON.stringify(now?.groups ?? now)} ${hams[node].logLines().slice(-12).map((item) => item.msg).join(" | ")}`);
  });
  // x's active node, once both nodes settled with one active.
  const xSettled = () => waitFor(async () => {
    const [one, two] = [await settled("n1", "x"), await settled("n2", "x")];
    const active = [one.active.length > 0 ? "n1" : null, two.active.length > 0 ? "n2" : null].filter(Boolean);
    return active.length === 1 && one.standby.length + two.standby.length === 1 ? active[0] : null;
  }, 15_000, "x: one active across the nodes");
  try {
    await Promise.all(["n1", "n2"].map(start));
    const cross = [];
    const local = [];
    for (let round = 0; round < kills + WARMUP; round += 1) {
      const activeNode = await xSettled();
      const other = activeNode === "n1" ? "n2" : "n1";
      const victim = await pidOf(activeNode, "m");
      if (process.env.BENCH_DEBUG) console.error(`round ${round}: x active on ${activeNode}`);
      const standby = await pidOf(other, "m");
      let from = heard.length;
      let t0 = now();
      process.kill(victim, "SIGKILL");
      const active = await hear((item, index) => index >= from && item.pid === standby && item.text === "active");
      if (round >= WARMUP) cross.push(active.at - t0);
      const l = await settled("n1", "l");
      const lVictim = await pidOf("n1", l.active[0]);
      const lStandby = await pidOf("n1", l.standby[0]);
      from = heard.length;
      t0 = now();
      process.kill(lVictim, "SIGKILL");
      const lActive = await hear((item, index) => index >= from && item.pid === lStandby && item.text === "active");
      if (round >= WARMUP) local.push(lActive.at - t0);
    }
    // Switchovers: request → the other member's callback done ("active"), and the answer's time.
    const crossSwitch = [];
    const crossAnswer = [];
    const localSwitch = [];
    for (let round = 0; round < switchovers + (switchovers > 0 ? 1 : 0); round += 1) {
      const activeNode = await xSettled();
      const other = activeNode === "n1" ? "n2" : "n1";
      const standby = await pidOf(other, "m");
      let from = heard.length;
      let t0 = now();
      const answered = ask(activeNode, "group_switchover", { gname: "x", wait: true }, 30_000).then(() => now());
      const active = await hear((item, index) => index >= from && item.pid === standby && item.text === "active");
      const answeredAt = await answered;
      if (round >= 1) {
        crossSwitch.push(active.at - t0);
        crossAnswer.push(answeredAt - t0);
      }
      const l = await settled("n1", "l");
      const lStandby = await pidOf("n1", l.standby[0]);
      from = heard.length;
      t0 = now();
      await ask("n1", "group_switchover", { gname: "l", wait: true }, 30_000);
      const lActive = await hear((item, index) => index >= from && item.pid === lStandby && item.text === "active");
      if (round >= 1) localSwitch.push(lActive.at - t0);
    }
    const deaths = [];
    for (let round = 0; round < nodeDeaths; round += 1) {
      const activeNode = await xSettled();
      const other = activeNode === "n1" ? "n2" : "n1";
      const standby = await pidOf(other, "m");
      const { hamPid, guardianPid } = await ask(activeNode, "status");
      const runDir = hams[activeNode].runDir;
      const from = heard.length;
      const t0 = now();
      for (const pid of [guardianPid, hamPid, ...pidsWithEnv(`HAM_RUN_DIR=${runDir}`)]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      const active = await hear((item, index) => index >= from && item.pid === standby && item.text === "active");
      deaths.push(active.at - t0);
      // Not ham.stop(): it ends every process the section owns, the other node's too.
      await removeRunDir(runDir);
      await start(activeNode);
    }
    // etcd leader killed: how long etcd had no leader (its members polled every 20 ms) against how
    // long x had no member that believed it was active (the members' own reports).
    const leaderless = [];
    const noActive = [];
    const events = (name) => Object.values(hams).reduce((sum, ham) => sum + ham.logLines().filter((line) => line.event === name).length, 0);
    const before = { regranted: events("lease-regranted"), expiring: events("lease-expiring") };
    for (let round = 0; round < leaderKills; round += 1) {
      await xSettled();
      const leader = await leaderIndex(etcd.endpoints);
      const old = (await memberStatus(etcd.endpoints[leader])).header.member_id;
      const from = heard.length;
      const t0 = now();
      etcd.kill(leader);
      const others = etcd.endpoints.filter((_, index) => index !== leader);
      const elected = await waitFor(async () => ((await newLeader(others, old)) ? now() : null), 15_000, "a new etcd leader");
      leaderless.push(elected - t0);
      // Two TTLs for the fallout to show, then what the members said since the kill.
      await new Promise((resolve) => setTimeout(resolve, 2 * 2_000));
      const said = heard.slice(from);
      const dropped = said.find((item) => item.text === "quiesced");
      if (dropped === undefined) noActive.push(0);
      else {
        const back = await hear((item, index) => index >= from && item.text === "active" && item.at > dropped.at, 15_000);
        noActive.push(back.at - dropped.at);
      }
      etcd.restart(leader);
      await etcd.healthy(15_000);
    }
    const lost = { regranted: events("lease-regranted") - before.regranted, expiring: events("lease-expiring") - before.expiring };
    const c = stats(cross);
    const l = stats(local);
    const d = stats(deaths);
    const sw = switchovers === 0 ? null : { cross: stats(crossSwitch), answer: stats(crossAnswer), local: stats(localSwitch) };
    printTable(`Service group across nodes (2N, m@n1 + m@n2, 3-member etcd, TTL 2 s): ${kills} member kills, ${switchovers} switchovers, ${nodeDeaths} node deaths`, [
      ["baseline: local 2N failover on n1 (SIGKILL → standby's callback done)", `p50 ${ms(l.p50)}  p99 ${ms(l.p99)}`],
      ["member death → the other node's member active", `p50 ${ms(c.p50)}  p99 ${ms(c.p99)}  (goal ≤ 100 ms; ${ratio(c.p50, l.p50)} the local)`],
      ...(sw === null ? [] : [
        ["baseline: local 2N switchover on n1 (request → standby's callback done)", `p50 ${ms(sw.local.p50)}  p99 ${ms(sw.local.p99)}`],
        ["switchover across nodes (request → the other node's member active)", `p50 ${ms(sw.cross.p50)}  p99 ${ms(sw.cross.p99)}  (${ratio(sw.cross.p50, sw.local.p50)} the local)`],
        ["  the same: request → answered (the holder saw the other node take the key)", `p50 ${ms(sw.answer.p50)}  p99 ${ms(sw.answer.p99)}`],
      ]),
      ["node death (HAM, Guardian, members SIGKILLed) → the other node's member active", `p50 ${ms(d.p50)}  max ${ms(d.max ?? Math.max(...deaths))}  (goal ≤ 3 s)`],
      ...(leaderKills === 0 ? [] : [
        [`etcd leader SIGKILLed (${leaderKills}): etcd without a leader`, leaderless.map((value) => ms(value)).join(", ")],
        ["  the same kills: x without an active member (0: none dropped)", noActive.map((value) => ms(value)).join(", ")],
        ["  the same kills: node deadlines passed (lease-expiring) / leases lost (re-granted)", `${lost.expiring} / ${lost.regranted} (2 nodes)`],
      ]),
    ]);
    return { cross: c, local: l, nodeDeath: d, switchover: sw };
  } finally {
    for (const ham of Object.values(hams)) await ham.stop().catch(() => undefined);
    killAll();
    etcd.stop();
    fifo.close();
  }
}
