// A cluster on this machine (3-member etcd on loopback, three nodes, TTL 2 s): how long a
// cross-node 2N group is without an active member
//  - when the active's whole node dies (SIGKILL of its HAM, Guardian and members): goal ≤ TTL + 1 s = 3 s;
//  - when the active member dies on its healthy node (the standby on the other node takes over): goal ≤ 100 ms;
// against, in the same run, a local 2N group failing over on one node (the single-node figure).
// Each time is SIGKILL → the new active's role callback done (the member writes it to a FIFO).
import { join } from "node:path";
import { ms, now, openFifo, printTable, ratio, ROOT, stats, tempDir, waitFor } from "./lib.mjs";

const TTL_S = 2;
const restart = [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }];

export async function clusterFigures({ memberKills = 15, nodeKills = 5, localKills = 15 } = {}) {
  const { etcdBinary } = await import(join(ROOT, "dist/lab/etcd-cluster.js"));
  if (etcdBinary() === null) throw new Error("no etcd here (apt-get install etcd-server)");
  const { ClusterNodes } = await import(join(ROOT, "dist/lab/cluster-nodes.js"));
  const dir = tempDir("cluster");
  const fifo = openFifo(dir, "members.fifo");
  const member = (name) => ({ name, command: `${process.execPath} ${join(ROOT, "bench/group-member.mjs")} ${fifo.path}`, policy: { minUptimeMs: 0 }, conditions: restart });
  // n1, n2: the cross-node group x (x@n1, x@n2); n3: the local group g (g1, g2) as the baseline.
  const config = (node) => node === "n3"
    ? { entities: [member("g1"), member("g2")], groups: [{ name: "g", model: "2N", members: ["g1", "g2"] }] }
    : { entities: [member("x")], groups: [{ name: "x", model: "2N", members: ["x@n1", "x@n2"] }] };
  const cluster = await ClusterNodes.start({ nodes: 3, ttlS: TTL_S, proxies: false, spec: { config, hamArgs: ["--no-mount"] } });
  // What each member process said last, by pid, and who runs where.
  const last = new Map();
  const heard = [];
  let listening = true;
  void (async () => {
    while (listening) {
      const line = await fifo.next(600_000).catch(() => null);
      if (line === null) return;
      const [pid, text] = line.text.split(" ");
      if (text !== "ready") last.set(Number(pid), text);
      heard.push({ pid: Number(pid), text, at: line.at });
    }
  })();
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // The group's members on `nodes`: the live processes each node's HAM names for `names`.
  const membersOf = async (pairs) => {
    const found = [];
    for (const [node, name] of pairs) {
      const info = await cluster.node(node).system.entity(name);
      if (info !== null && info.pid > 0 && alive(info.pid)) found.push({ node, name, pid: info.pid });
    }
    return found;
  };
  const settled = (pairs) => waitFor(async () => {
    const members = await membersOf(pairs);
    const active = members.filter((item) => last.get(item.pid) === "active");
    const standby = members.filter((item) => last.get(item.pid) === "standby");
    return members.length === 2 && active.length === 1 && standby.length === 1 ? { active: active[0], standby: standby[0] } : null;
  }, 30_000, "an active and a standby");
  const activeAfter = (from, pid, timeoutMs) => waitFor(() => heard.slice(from).find((item) => item.pid === pid && item.text === "active"), timeoutMs, `pid ${pid} active`);
  const cross = [["n1", "x"], ["n2", "x"]];
  const local = [["n3", "g1"], ["n3", "g2"]];
  try {
    const localMs = [];
    const memberMs = [];
    const nodeMs = [];
    for (let round = 0; round < Math.max(localKills, memberKills); round += 1) {
      if (round < localKills) {
        const { active, standby } = await settled(local);
        const from = heard.length;
        const t0 = now();
        process.kill(active.pid, "SIGKILL");
        localMs.push((await activeAfter(from, standby.pid, 5_000)).at - t0);
      }
      if (round < memberKills) {
        const { active, standby } = await settled(cross);
        const from = heard.length;
        const t0 = now();
        process.kill(active.pid, "SIGKILL");
        memberMs.push((await activeAfter(from, standby.pid, 10_000)).at - t0);
      }
    }
    for (let round = 0; round < nodeKills; round += 1) {
      const { active, standby } = await settled(cross);
      const node = cluster.node(active.node);
      const from = heard.length;
      const t0 = now();
      cluster.killNode(node);
      nodeMs.push((await activeAfter(from, standby.pid, 15_000)).at - t0);
      await cluster.startNode(node, { fresh: true, timeoutMs: 20_000 });
    }
    const fig = (s, goal = "") => s.n === 0 ? "none" : `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}${goal}`;
    const times = (s, base) => s.n === 0 || base.n === 0 ? "-" : ratio(s.p50, base.p50);
    const l = stats(localMs);
    const m = stats(memberMs);
    const n = stats(nodeMs);
    printTable(`Cluster (3-member etcd on loopback, TTL ${TTL_S} s): a cross-node 2N group without an active, against a local 2N group in the same run`, [
      [`local failover on one node (SIGKILL → standby active, ${localKills})`, fig(l)],
      [`member death on a healthy node → standby on another node active (${memberKills})`, fig(m, " (goal ≤ 100 ms)")],
      ["  against the local failover, median", times(m, l)],
      [`node death (HAM, Guardian, members SIGKILLed) → standby on another node active (${nodeKills})`, fig(n, ` (goal ≤ ${TTL_S + 1} s)`)],
      ["  against the local failover, median", times(n, l)],
    ]);
    return { local: l, member: m, node: n };
  } finally {
    listening = false;
    await cluster.stop();
    fifo.close();
  }
}
