// Checkpoint figures: ckpt_write through the public API at 1 KB, 64 KB and 1 MiB, into a checkpoint
// that already holds 8 MB in other sections (a write journals its one section, never them).
// Baseline: the HAM's own journal (ham/adapters/store.ts) appending a record of the same
// section, in this process, in the same run. BENCH_CKPT_OTHER sets how many 64 KB sections
// are there before (default 128; 0: an empty checkpoint).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { now, printTable, ratio, ROOT, startHam, stats, tempDir, us } from "./lib.mjs";

const WARMUP = 100;
const CALLS = 1_000;
// Section size → calls timed (a 1 MiB write takes ~25 ms: fewer of them).
const SIZES = [[1024, CALLS], [64 * 1024, CALLS], [1024 * 1024, 100]];
const OTHER_SECTIONS = Number(process.env.BENCH_CKPT_OTHER ?? 128); // × 64 KB = 8 MB already in the checkpoint

async function timed(count, call) {
  const samples = [];
  const warmup = Math.min(WARMUP, count / 10);
  for (let i = 0; i < warmup + count; i += 1) {
    const t0 = now();
    await call(i);
    if (i >= warmup) samples.push(now() - t0);
  }
  return stats(samples);
}

// A journal append of the same record a ckpt_write makes ("s/<ckpt>/<section>": base64 + time).
async function journalAppend(size, count) {
  const { StateStore, stateDirOf } = await import(join(ROOT, "dist/ham/adapters/store.js"));
  // Where the HAM keeps its own: /dev/shm when there is one.
  const store = new StateStore(stateDirOf(tempDir("ckpt-journal")));
  store.open(null);
  const data = randomBytes(size);
  try {
    return await timed(count, (i) => store.commit({ "s/bench/s": { data: data.toString("base64"), writtenMs: i } }, undefined));
  } finally {
    store.remove();
  }
}

export async function ckptFigures() {
  const api = await import(join(ROOT, "dist/lib/index.js"));
  const ham = await startHam();
  const rows = [];
  const figures = {};
  try {
    const handle = await api.ckpt_open("bench");
    const other = randomBytes(64 * 1024);
    for (let i = 0; i < OTHER_SECTIONS; i += 1) await api.ckpt_write(handle, `other${i}`, other);
    for (const [size, count] of SIZES) {
      const baseline = await journalAppend(size, count);
      const data = randomBytes(size);
      const write = await timed(count, () => api.ckpt_write(handle, "s", data));
      const label = size < 1024 * 1024 ? `${size / 1024} KB` : `${size / 1024 / 1024} MiB (${count} calls)`;
      rows.push(
        [`journal append, ${label} section`, `p50 ${us(baseline.p50)}  p99 ${us(baseline.p99)}`],
        [`ckpt_write ${label} via the API`, `round trip p50 ${us(write.p50)}  p99 ${us(write.p99)}`],
        [`ckpt_write ${label} / baseline`, `p50 ${ratio(write.p50, baseline.p50)}  p99 ${ratio(write.p99, baseline.p99)}`],
      );
      figures[size] = { baseline, write };
    }
    await api.ckpt_write(handle, "s", randomBytes(64 * 1024));
    const read = await timed(CALLS, () => api.ckpt_read(handle, "s"));
    rows.push(["ckpt_read 64 KB via the API", `round trip p50 ${us(read.p50)}  p99 ${us(read.p99)}`]);
    await api.ckpt_close(handle);
    printTable(`Checkpoints: ${CALLS} sequential calls after ${WARMUP} warm-up, ${OTHER_SECTIONS} other sections of 64 KB in the checkpoint`, rows);
    return figures;
  } finally {
    await ham.stop();
  }
}
