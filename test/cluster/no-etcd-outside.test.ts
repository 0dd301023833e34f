import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, FIXTURES, HAMCTL_BIN, ROOT, startHam, tempDir } from "../helpers/ham-instance.js";

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

  it("the Guardian's bundle imports no etcd3 or gRPC (it takes the etcd adapter by its file, at run time)", () => {
    const files = readdirSync(join(ROOT, "dist/guardian")).filter((name) => /^guardian[.-].*\.mjs$/.test(name));
    const bundle = files.map((name) => readFileSync(join(ROOT, "dist/guardian", name), "utf8")).join("\n");
    expect(files.length).toBeGreaterThan(1);
    expect(bundle.match(/^import .* from "(etcd3|@grpc\/[^"]*)";$/gm) ?? []).toEqual([]);
    expect(bundle).toContain("var Ham = class");
  });

  it("the check sees etcd3 when the cluster adapter is loaded (the test can fail)", () => {
    const loaded = modulesLoadedBy(`await import("./dist/ham/cluster/etcd.js");`);
    expect(clusterCode(loaded).length).toBeGreaterThan(0);
  });
});

describe("hamctl nodes outside a cluster", () => {
  afterEach(cleanup);

  it("answers with one line and exit 1", async () => {
    const ham = await startHam();
    const run = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", ham.runDir, "nodes"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("hamctl: EINVAL: not in a cluster (ham --node NAME --etcd URL)\n");
    const status = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", ham.runDir, "status", "--json"], { encoding: "utf8" });
    expect(JSON.parse(status.stdout)).toMatchObject({ cluster: null });
  });
});
