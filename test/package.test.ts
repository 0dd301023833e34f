import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, eventually, isAlive, killRunDir, ROOT, tempDir, track } from "./helpers/ham-instance.js";

// The package ships only what users run (issue 18): `npm pack` of this checkout, installed into
// an empty prefix as a user's `npm install hamd` would, and its bins run from there.

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

let ham: ChildProcess | null = null;

afterEach(async () => {
  if (ham?.pid !== undefined && isAlive(ham.pid)) ham.kill("SIGKILL");
  ham = null;
  await cleanup();
});

describe("npm package", () => {
  it("the packed tarball installs into an empty prefix, and ham, hamctl and ham-lab run from it", async () => {
    const dir = tempDir("package");
    // --ignore-scripts: dist/ is built already, and a build now would rewrite it under the other tests.
    const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT, timeoutMs: 120_000 });
    expect(packed.code, packed.stderr).toBe(0);
    const [pack] = JSON.parse(packed.stdout) as Array<{ filename: string; entryCount: number; files: Array<{ path: string }> }>;
    if (pack === undefined) throw new Error("npm pack listed nothing");
    const paths = pack.files.map((file) => file.path);
    // Sources, tests, benches and the lab's sources stay home; the lab's compiled bin goes.
    expect(paths.filter((path) => /^(test|bench|lab|ham|lib|guardian|fs|\.ci)\//.test(path) || (path.endsWith(".ts") && !path.startsWith("dist/lib/")))).toEqual([]);
    for (const needed of ["dist/ham/main.js", "dist/lib/hamctl/main.js", "dist/lab/main.js", "dist/guardian/guardian.bundle.mjs", "dist/ham/cluster/etcd.bundle.mjs",
      "dist/ham/core/schema-validators.js", "dist/lib/index.d.ts", "schema/ham-config.schema.json", "examples/systemd/hamd.service", "README.md", "LICENSE"]) {
      expect(paths).toContain(needed);
    }
    // The HAM's code the Guardian loads after it is ready: every chunk its bundle names.
    const bundle = readFileSync(join(ROOT, "dist/guardian/guardian.bundle.mjs"), "utf8");
    for (const chunk of new Set(bundle.match(/guardian-ham-[A-Z0-9]+\.mjs/g) ?? [])) expect(paths).toContain(`dist/guardian/${chunk}`);

    const prefix = join(dir, "prefix");
    const installed = await run("npm", ["install", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", join(dir, pack.filename)], { timeoutMs: 600_000 });
    expect(installed.code, installed.stderr).toBe(0);
    const home = join(prefix, "node_modules/hamd");
    expect(readdirSync(home).sort()).toEqual(["LICENSE", "README.md", "dist", "examples", "package.json", "schema"]);
    expect(filesUnder(home).length).toBe(pack.entryCount);

    const bin = (name: string) => join(prefix, "node_modules/.bin", name);
    const hamHelp = await run(bin("ham"), ["--help"]);
    expect(hamHelp.code).toBe(0);
    expect(hamHelp.stdout).toMatch(/^usage: ham /);
    const hamctlHelp = await run(bin("hamctl"), ["--help"]);
    expect(hamctlHelp.code).toBe(0);
    expect(hamctlHelp.stdout).toMatch(/^usage: hamctl /);
    const labHelp = await run(bin("ham-lab"), ["--help"]);
    expect(labHelp.code).toBe(0);
    expect(labHelp.stdout).toMatch(/^usage: ham-lab /);

    // A real HAM from the package: it answers, its Guardian (the bundle) becomes ready, it
    // supervises a service; then it is stopped by its pid.
    const runDir = tempDir("package-run");
    ham = spawn(bin("ham"), ["--foreground", "--no-mount", "--run-dir", runDir], { stdio: ["ignore", "ignore", "pipe"] });
    const hamPid = ham.pid ?? 0;
    try {
      const hamctl = (...args: string[]) => run(bin("hamctl"), ["--run-dir", runDir, ...args]);
      const status = await eventually(async () => {
        const result = await hamctl("status", "--json");
        const parsed = result.code === 0 ? JSON.parse(result.stdout) as { hamPid: number; guardianPid: number } : null;
        return parsed !== null && parsed.guardianPid > 0 ? parsed : null;
      }, 30_000, "the packaged HAM and its Guardian");
      expect(status.hamPid).toBe(hamPid);
      expect((await hamctl("start", "web", "--", "/bin/sleep", "1000")).code).toBe(0);
      const rows = await eventually(async () => {
        const result = await hamctl("ps", "--json");
        const parsed = result.code === 0 ? JSON.parse(result.stdout) as Array<{ name: string; state: string; pid: number }> : [];
        return parsed.find((row) => row.name === "web" && row.state === "running");
      }, 30_000, "web running");
      track(rows.pid);
      ham.kill("SIGTERM");
      await eventually(() => !isAlive(hamPid), 15_000, "the packaged HAM's exit");
    } finally {
      await killRunDir(runDir);
    }
  }, 900_000);
});
