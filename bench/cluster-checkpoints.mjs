// Checkpoints across nodes (issue 17): ckpt_write of a 1 KiB section to a cross-node group's
// checkpoint (kept in etcd: a linearizable read of the header and the election key, then one
// fenced transaction) against the same write to a local checkpoint of the same HAM (its shared
// state), calls interleaved, in the same run; and ckpt_read of that section, both kinds. A real
// 3-member etcd on loopback (tmpfs), nodes n1 and n2 with the 2N group x = [m@n1, m@n2]; the
// client writes through the node holding x's election.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, ms, now, printTable, ratio, ROOT, startHam, stats, tempDir, waitFor } from "./lib.mjs";

const WARMUP = 30;
const CALLS = Number(process.env.BENCH_CKPT_CALLS ?? 300);

// Both calls in turn, `CALLS` times each after the warm-up: their samples share the machine's noise.
async function interleaved(first, second) {
  const a = [];
  const b = [];
  for (let i = 0; i < WARMUP + CALLS; i += 1) {
    for (const [call, samples] of [[first, a], [second, b]]) {
      const t0 = now();
      await call(i);
      if (i >= WARMUP) samples.push(now() - t0);
    }
  }
  return [stats(a), stats(b)];
}

export async function clusterCheckpointFigures() {
  const { EtcdCluster, etcdBinary } = await import(join(ROOT, "dist/lab/etcd-cluster.js"));
  if (etcdBinary() === null) throw new Error("no etcd here (apt-get install etcd-server)");
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const dir = tempDir("cluster-ckpt");
  const etcd = await EtcdCluster.start(3);
  const hams = {};
  const handles = [];
  try {
    // The lab's member (no lab socket to report to: it just takes its roles).
    const member = { name: "m", command: `${process.execPath} ${join(ROOT, "dist/lab/member.js")} ${join(dir, "none.sock")} NODE`, policy: { minUptimeMs: 0 } };
    for (const node of ["n1", "n2"]) {
      const config = join(dir, `${node}.json`);
      writeFileSync(config, JSON.stringify({ entities: [{ ...member, command: member.command.replace("NODE", node) }], groups: [{ name: "x", model: "2N", members: ["m@n1", "m@n2"] }] }));
      delete process.env.HAM_RUN_DIR;
      hams[node] = await startHam(["--node", node, "--etcd", etcd.endpoints.join(","), "--config", config]);
    }
    // The node that holds x's election: the one whose group checkpoint takes a write.
    const data = randomBytes(1024);
    const writer = await waitFor(async () => {
      for (const node of ["n1", "n2"]) {
        const handle = await api.ckpt_open_node("bench", hams[node].runDir, { group: "x" }).catch(() => null);
        if (handle === null) continue;
        handles.push(handle);
        if (await api.ckpt_write(handle, "s", data).then(() => true, () => false)) return { node, handle };
      }
      return null;
    }, 20_000, "a node holding x's election");
    const local = await api.ckpt_open_node("bench", hams[writer.node].runDir);
    handles.push(local);
    const [groupWrite, localWrite] = await interleaved(() => api.ckpt_write(writer.handle, "s", data), () => api.ckpt_write(local, "s", data));
    const [groupRead, localRead] = await interleaved(() => api.ckpt_read(writer.handle, "s"), () => api.ckpt_read(local, "s"));
    const row = (name, figures) => [name, `p50 ${ms(figures.p50)}  p99 ${ms(figures.p99)}`];
    printTable(`Checkpoints across nodes: ${CALLS} calls each after ${WARMUP} warm-up, interleaved, client of ${writer.node} (holding x's election); 3-member etcd on loopback (tmpfs)`, [
      row("ckpt_write 1 KiB, local checkpoint", localWrite),
      row("ckpt_write 1 KiB, group x's checkpoint (etcd)", groupWrite),
      ["group / local (write)", `p50 ${ratio(groupWrite.p50, localWrite.p50)}  p99 ${ratio(groupWrite.p99, localWrite.p99)}`],
      row("ckpt_read 1 KiB, local checkpoint", localRead),
      row("ckpt_read 1 KiB, group x's checkpoint (etcd)", groupRead),
      ["group / local (read)", `p50 ${ratio(groupRead.p50, localRead.p50)}  p99 ${ratio(groupRead.p99, localRead.p99)}`],
    ]);
    return { groupWrite, localWrite, groupRead, localRead };
  } finally {
    for (const handle of handles) await api.ckpt_close(handle).catch(() => undefined);
    for (const ham of Object.values(hams)) await ham.stop();
    killAll();
    etcd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  clusterCheckpointFigures().then(() => process.exit(0), (error) => {
    console.error(`bench cluster-checkpoints: ${error instanceof Error ? error.message : String(error)}`);
    killAll();
    process.exit(1);
  });
}
