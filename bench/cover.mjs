// The cover library: a covered 4 KB read against fs.promises on the same file; a covered
// MsgSend round trip against a plain one to the same service; and, with a FUSE file server
// killed and started again, the time from the new server being ready to the pending read
// returning (the recovery function itself only waits for "ready").
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { open as openP } from "node:fs/promises";
import { join } from "node:path";
import { killAll, ms, now, own, printTable, ratio, ROOT, stats, tempDir, us, waitFor } from "./lib.mjs";

const READS = 20_000;
const SENDS = 5_000;

async function readFigures(cover, dir) {
  const path = join(dir, "data");
  writeFileSync(path, Buffer.alloc(4 * 1024 * 1024, 7));
  const plain = await openP(path, "r");
  const covered = await cover.ha_open(path, "r", () => -1, null);
  const buffer = Buffer.alloc(4096);
  const samples = { plain: [], covered: [] };
  for (let block = 0; block < 20; block += 1) {
    for (const kind of block % 2 === 0 ? ["plain", "covered"] : ["covered", "plain"]) {
      const t0 = now();
      for (let i = 0; i < READS / 20; i += 1) {
        const position = (i * 4096) % (4 * 1024 * 1024);
        if (kind === "plain") await plain.read(buffer, 0, 4096, position);
        else await cover.ha_read(covered, buffer, 0, 4096, position);
      }
      samples[kind].push((now() - t0) / (READS / 20));
    }
  }
  await plain.close();
  await cover.ha_close(covered);
  return { plain: stats(samples.plain), covered: stats(samples.covered) };
}

async function sendFigures(cover, dir) {
  const path = join(dir, "double.sock");
  const server = spawn(process.execPath, [join(ROOT, "test/fixtures/double-server.mjs"), path, join(dir, "handled")], { stdio: ["ignore", "pipe", "inherit"] });
  own(server.pid);
  await waitFor(() => server.stdout.read() !== null, 10_000, "the service");
  const plain = await cover.ConnectAttach(path);
  const covered = await cover.ha_ConnectAttach(path, () => -1, null);
  const samples = { plain: [], covered: [] };
  for (let i = 0; i < SENDS; i += 1) {
    for (const [kind, coid] of i % 2 === 0 ? [["plain", plain], ["covered", covered]] : [["covered", covered], ["plain", plain]]) {
      const t0 = now();
      await cover.MsgSend(coid, i);
      samples[kind].push(now() - t0);
    }
  }
  cover.ConnectDetach(plain);
  cover.ha_ConnectDetach(covered);
  server.kill("SIGKILL");
  return { plain: stats(samples.plain), covered: stats(samples.covered) };
}

async function recoveryFigures(cover, dir) {
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  const start = async () => {
    for (;;) {
      const server = spawn(process.execPath, [join(ROOT, "examples/nfs-recovery/server.cjs"), mnt, "4000000"], { stdio: ["ignore", "pipe", "ignore"] });
      own(server.pid);
      const up = await waitFor(() => server.stdout.read() !== null || server.exitCode !== null, 10_000, "the file server");
      if (up === true && server.exitCode === null) return { server, readyAt: now() };
      await new Promise((resolve) => setTimeout(resolve, 20)); // the old mount was still going
    }
  };
  let current = await start();
  let ready = null;
  const path = join(mnt, "data");
  const handle = await cover.ha_open(path, "r", async (h) => {
    await ready;
    return cover.ha_reopen(h, path, "r");
  }, null);
  const delays = [];
  for (let round = 0; round < 10; round += 1) {
    current.server.kill("SIGKILL");
    await waitFor(() => current.server.exitCode !== null || current.server.signalCode !== null, 5_000, "the server gone");
    let markReady;
    ready = new Promise((resolve) => {
      markReady = resolve;
    });
    const position = 1_000_000 + round * 250_000; // beyond what the kernel cached
    const pending = cover.ha_read(handle, Buffer.alloc(4096), 0, 4096, position);
    current = await start();
    markReady();
    await pending;
    delays.push(now() - current.readyAt);
  }
  await cover.ha_close(handle);
  current.server.kill("SIGKILL");
  await waitFor(() => current.server.exitCode !== null || current.server.signalCode !== null, 5_000, "the server gone");
  return stats(delays);
}

export async function coverFigures() {
  const cover = await import(join(ROOT, "dist/lib/cover/index.js"));
  const dir = tempDir("cover");
  try {
    const reads = await readFigures(cover, dir);
    const sends = await sendFigures(cover, dir);
    const recovery = await recoveryFigures(cover, dir);
    printTable(`Cover library: ${READS.toLocaleString("en")} reads of 4 KB, ${SENDS.toLocaleString("en")} sends each, 10 server restarts`, [
      ["fs.promises read, 4 KB (baseline)", `${us(reads.plain.p50)} per read (median of 20 blocks)`],
      ["ha_read, 4 KB", `${us(reads.covered.p50)} per read (${ratio(reads.covered.p50, reads.plain.p50)} of baseline; goal ≤ 1.1×)`],
      ["MsgSend, plain connection (baseline)", `p50 ${us(sends.plain.p50)}  p99 ${us(sends.plain.p99)}`],
      ["MsgSend, ha_ConnectAttach", `p50 ${us(sends.covered.p50)}  p99 ${us(sends.covered.p99)} (${ratio(sends.covered.p50, sends.plain.p50)})`],
      ["restarted server ready → pending read returned", `p50 ${ms(recovery.p50)}  max ${ms(recovery.max)} (goal ≤ 10 ms + the recovery function's own time)`],
    ]);
    return { reads, sends, recovery };
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
