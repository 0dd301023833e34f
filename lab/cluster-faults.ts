import { isSameProcessAlive } from "../lib/proc.js";
import type { ClusterFaultKind } from "./cluster-fault-kinds.js";
import type { ClusterNode } from "./cluster-nodes.js";
import type { ClusterRun } from "./cluster-run.js";
import { ACTIVE_AGAIN_LIMIT_MS, monoMs, TAKEOVER_ALLOWANCE_MS } from "./group-watch.js";
import { CROSS_GROUP, CROSS_NODES } from "./cluster-run.js";
import { sleep } from "./run.js";

// The cluster's faults (cluster-fault-kinds.ts). Each starts at once and returns what it did;
// its end (a node restarted, resumed, restored; etcd members back) runs in the background while
// the lab goes on with other nodes' faults, and the next quiet moment waits for it. One cluster
// fault at a time: the lab causes no double fault (both nodes of the cross-node group lost)
// that nothing could survive. When a fault takes away the node of the cross-node group's active
// for longer than its lease can last, a member must say "active" within TTL + 1 s.

type ClusterFault = (run: ClusterRun) => Promise<string | null>;

// A hang or cut of this length never passes the lease's deadline (last keepalive ≤ TTL/3 + 250 ms
// old, deadline TTL − 300 ms after it); one this long always lets the lease expire.
const shortHold = (run: ClusterRun) => run.random.between(100, run.cluster.ttlS * 1_000 * 0.4);
const longHold = (run: ClusterRun) => run.random.between(run.cluster.ttlS * 1_000 + 500, run.cluster.ttlS * 1_000 + 3_000);

function pickNode(run: ClusterRun): ClusterNode | null {
  if (run.pending !== null) return null;
  const nodes = run.available();
  return nodes.length === 0 ? null : run.random.pick(nodes);
}

// The node is lost for the cross-node group: its active (if there) must be replaced in time.
function awaitIfActiveOn(run: ClusterRun, node: ClusterNode, fault: string, at: number): string {
  const active = run.crossActive();
  if (active === null || active.node !== node.name || run.cross === null) return "";
  run.nodeLosses += 1;
  run.cross.awaitActive(fault, `${active.entity}'s node ${node.name}`, at, run.cluster.ttlS * 1_000 + ACTIVE_AGAIN_LIMIT_MS);
  return `, with ${active.entity} active`;
}

// Runs `end` in the background, holding the node (or the cluster) from other faults until then.
function meanwhile(run: ClusterRun, busy: string, end: () => Promise<void>): void {
  run.busy = busy;
  const pending = (async () => {
    try {
      await end();
    } catch (error) {
      run.violate("cluster fault ended", `${busy}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      run.busy = null;
      run.pending = null;
    }
  })();
  run.pending = pending;
  run.watch(pending);
}

export const CLUSTER_FAULTS: Readonly<Record<ClusterFaultKind, ClusterFault>> = {
  "kill-node": async (run) => {
    const node = pickNode(run);
    if (node === null) return null;
    const at = monoMs();
    const which = awaitIfActiveOn(run, node, "kill-node", at);
    const pids = run.cluster.killNode(node);
    const down = run.random.between(0, 2_000);
    meanwhile(run, node.name, async () => {
      await sleep(down);
      await run.revive(node);
    });
    return `${node.name} (${pids.length} processes)${which}, back after ${Math.round(down)} ms + its lease`;
  },

  "hang-node": async (run) => {
    const node = pickNode(run);
    if (node === null) return null;
    const hold = run.random.next() < 0.5 ? shortHold(run) : longHold(run);
    const life = run.incarnations.get(node.name);
    const at = monoMs();
    const which = hold > run.cluster.ttlS * 1_000 ? awaitIfActiveOn(run, node, "hang-node", at) : "";
    const pids = run.cluster.hangNode(node);
    if (pids.length === 0) return null;
    if (life !== undefined) {
      life.run.hamFaultGeneration += 1;
      life.run.hamFaults.push({ at, allowanceMs: hold + TAKEOVER_ALLOWANCE_MS });
    }
    meanwhile(run, node.name, async () => {
      await sleep(hold);
      run.cluster.resumeNode(node);
      if (life !== undefined) life.run.lastFaultEndMs = life.run.now();
    });
    return `${node.name} (HAM and Guardian ${pids.join(", ")}) for ${Math.round(hold)} ms${which}`;
  },

  "cut-node": async (run) => {
    const node = pickNode(run);
    if (node === null) return null;
    const hold = run.random.next() < 0.5 ? shortHold(run) : longHold(run);
    const at = monoMs();
    const which = hold > run.cluster.ttlS * 1_000 ? awaitIfActiveOn(run, node, "cut-node", at) : "";
    run.cluster.cutNode(node);
    meanwhile(run, node.name, async () => {
      await sleep(hold);
      run.cluster.restoreNode(node);
    });
    return `${node.name} for ${Math.round(hold)} ms${which}`;
  },

  "kill-etcd-member": async (run) => {
    if (run.pending !== null) return null;
    const index = run.random.int(0, 2);
    run.cluster.killEtcdMember(index);
    const hold = run.random.between(300, 3_000);
    meanwhile(run, "etcd", async () => {
      await sleep(hold);
      await run.cluster.restartEtcdMember(index);
    });
    return `etcd member m${index + 1} for ${Math.round(hold)} ms`;
  },

  "lose-quorum": async (run) => {
    if (run.pending !== null) return null;
    const killed = run.cluster.loseQuorum(run.random.int(0, 2));
    const hold = run.random.between(500, 4_000);
    meanwhile(run, "etcd", async () => {
      await sleep(hold);
      await run.cluster.regainQuorum(killed);
    });
    return `etcd members ${killed.map((index) => `m${index + 1}`).join(", ")} for ${Math.round(hold)} ms`;
  },

  // The cross-node active's death on a healthy node: the standby on the other node active in 1 s.
  "kill-cross-active": async (run) => {
    const active = run.crossActive();
    if (active === null || run.cross === null || run.pending !== null) return null;
    if (run.cluster.nodes.some((node) => node.state !== "up")) return null;
    const at = monoMs();
    if (!signal(active.pid, active.startTime)) return null;
    run.cross.awaitActive("kill-cross-active", `${active.entity} pid ${active.pid} SIGKILLed`, at);
    return `${active.entity} (pid ${active.pid})`;
  },

  // A switchover of the cross-node group asked on either of its nodes (the other forwards it to
  // the holder), waited for; held as a cluster fault until answered. Done, or abandoned
  // (ECANCELED: its yield window passed), or refused (EBUSY: no holder or no standby now) are
  // all answers; any other error, or none within 20 s, is a violation. Its invariants are the
  // cross group's: never two actives (from the members' reports), an active again in time.
  "switchover-cross": async (run) => {
    const active = run.crossActive();
    if (active === null || run.cross === null || run.pending !== null) return null;
    const nodes = run.cluster.nodes.filter((node) => CROSS_NODES.includes(node.name));
    if (nodes.some((node) => node.state !== "up")) return null;
    const asked = run.random.pick(nodes);
    const at = monoMs();
    run.cross.awaitActive("switchover-cross", `${active.entity} switched over (asked on ${asked.name})`, at, 2 * run.cluster.ttlS * 1_000 + ACTIVE_AGAIN_LIMIT_MS);
    meanwhile(run, "switchover", async () => {
      try {
        await asked.system.ask("group_switchover", { gname: CROSS_GROUP, wait: true }, 20_000);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== "ECANCELED" && code !== "EBUSY") throw error;
      }
    });
    return `${CROSS_GROUP} from ${active.entity}, asked on ${asked.name}`;
  },
};

function signal(pid: number, startTime: number | null): boolean {
  if (!isSameProcessAlive(pid, startTime)) return false;
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}
