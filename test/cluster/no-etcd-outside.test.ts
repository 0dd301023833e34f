import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, ROOT, tempDir } from "../helpers/ham-instance.js";

// etcd3 and gRPC are loaded only by a HAM given --etcd (ham/cluster/etcd.ts, by import()).
function modulesLoadedBy(script: string): string[] {
  const dir = tempDir("imports");
  const record = join(dir, "imports");
  try {
    const run = spawnSync(process.execPath, ["--import", join(FIXTURES, "record-imports.mjs"), "--input-type=module", "-e", script], {
      cwd: ROOT, env: { ...process.env, HAMD_RECORD_IMPORTS: record }, encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    return readFileSync(record, "utf8").split("\n").filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const clusterCode = (urls: string[]) => urls.filter((url) => /node_modules\/(etcd3|@grpc)\//.test(url));

describe("a HAM outside a cluster", () => {
  it("loads no etcd3 or gRPC code (the daemon, the Guardian's entry, ham's options)", () => {
    const loaded = modulesLoadedBy(`
      await import("./dist/ham/daemon/ham.js");
      await import("./dist/ham/daemon/options.js");
      await import("./dist/ham/server/requests.js");`);
    expect(loaded.some((url) => url.endsWith("/dist/ham/daemon/ham.js"))).toBe(true);
    expect(clusterCode(loaded)).toEqual([]);
  });

  it("the check sees etcd3 when the cluster adapter is loaded (the test can fail)", () => {
    const loaded = modulesLoadedBy(`await import("./dist/ham/cluster/etcd.js");`);
    expect(clusterCode(loaded).length).toBeGreaterThan(0);
  });
});
