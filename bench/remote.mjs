// Remote-call figures (issue 17): a ham_* call from a client of node n1 to node n2's HAM (through
// n1's HAM and etcd: the call and its reply are each a put, a watch event and a delete) against
// the same call to n1's own HAM, in the same run, on a real 3-member etcd (data on tmpfs).
// Two calls: ham_condition (a mutation: journaled on the target) and ham_entity_handle (a read).
import { join } from "node:path";
import { killAll, now, printTable, ratio, ROOT, startHam, stats, waitFor } from "./lib.mjs";

const WARMUP = 30;
const CALLS = Number(process.env.BENCH_REMOTE_CALLS ?? 300);
const ms = (value) => `${value.toFixed(2)} ms`;

async function timed(call) {
  const samples = [];
  for (let i = 0; i < WARMUP + CALLS; i += 1) {
    const t0 = now();
    await call(i);
    if (i >= WARMUP) samples.push(now() - t0);
  }
  return stats(samples);
}

export async function remoteFigures() {
  const { EtcdCluster, etcdBinary } = await import(join(ROOT, "dist/lab/etcd-cluster.js"));
  if (etcdBinary() === null) throw new Error("no etcd here (apt-get install etcd-server)");
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const etcd = await EtcdCluster.start(3);
  const hams = [];
  try {
    const urls = etcd.endpoints.join(",");
    hams.push(await startHam(["--node", "n2", "--etcd", urls]));
    hams.push(await startHam(["--node", "n1", "--etcd", urls]));
    process.env.HAM_RUN_DIR = hams[1].runDir;
    await api.ham_connect(0);
    // n1 has seen n2 join (a call to a node not yet seen is EHOSTDOWN).
    await waitFor(async () => (await api.ham_entity_node("bench", "n2", 0).then(() => true, () => false)), 10_000, "n1 to reach n2");
    const local = await api.ham_entity("bench", 0, 0);
    const remote = await api.ham_entity_handle_node("n2", "bench", 0);
    const localWrite = await timed((i) => api.ham_condition(local, api.CONDDEATH, `c${i}`, 0));
    const remoteWrite = await timed((i) => api.ham_condition(remote, api.CONDDEATH, `c${i}`, 0));
    const localRead = await timed(() => api.ham_entity_handle(0, "bench", 0));
    const remoteRead = await timed(() => api.ham_entity_handle_node("n2", "bench", 0));
    await api.ham_disconnect(0);
    const row = (name, figures) => [name, `p50 ${ms(figures.p50)}  p99 ${ms(figures.p99)}`];
    printTable(`Remote calls: ${CALLS} sequential calls after ${WARMUP} warm-up, client of n1; 3-member etcd on loopback (tmpfs)`, [
      row("ham_condition on n1 (local)", localWrite),
      row("ham_condition on n2 (remote)", remoteWrite),
      ["remote / local (mutation)", `p50 ${ratio(remoteWrite.p50, localWrite.p50)}  p99 ${ratio(remoteWrite.p99, localWrite.p99)}`],
      row("ham_entity_handle on n1 (local)", localRead),
      row("ham_entity_handle_node n2 (remote)", remoteRead),
      ["remote / local (read)", `p50 ${ratio(remoteRead.p50, localRead.p50)}  p99 ${ratio(remoteRead.p99, localRead.p99)}`],
    ]);
    return { localWrite, remoteWrite, localRead, remoteRead };
  } finally {
    for (const ham of hams) await ham.stop();
    killAll();
    etcd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  remoteFigures().then(() => process.exit(0), (error) => {
    console.error(`bench remote: ${error instanceof Error ? error.message : String(error)}`);
    killAll();
    process.exit(1);
  });
}
