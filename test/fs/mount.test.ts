import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ham from "../../dist/lib/index.js";
import { cleanup, entityPid, eventually, FIXTURES, HAM_BIN, isAlive, startHam, unmountUnder, type HamInstance } from "../helpers/ham-instance.js";
import { attachSleeper, guardianReady, killHam } from "../helpers/takeover.js";
import { describeWithFuse } from "../helpers/fuse.js";

// The /ham view on a real FUSE mount (CI installs libfuse2 and fuse3), inside the test's run
// directory. Every tool is the real one, run as a separate process.
afterEach(async () => {
  await ham.ham_disconnect(0).catch(() => undefined);
  await cleanup();
});

const mounted = (dir: string) => readFileSync("/proc/mounts", "utf8").split("\n").some((line) => line.split(" ")[1] === dir);
const run = (file: string, ...args: string[]) => spawnSync(file, args, { encoding: "utf8", timeout: 10_000 });

async function mountedHam(): Promise<{ instance: HamInstance; mnt: string }> {
  const instance = await startHam(["--mount", "{RUN_DIR}/ham"]);
  const mnt = join(instance.runDir, "ham");
  await eventually(() => mounted(mnt) && run("ls", "-a", mnt).stdout.includes(".info"), 10_000, "the mount");
  process.env["HAM_RUN_DIR"] = instance.runDir;
  await guardianReady(instance.runDir); // .info shows the Guardian's pid once it is ready
  return { instance, mnt };
}

describeWithFuse("the /ham view", () => {
  it("shows the tree of S1 with ls, cat, stat and find, byte for byte as hamctl", async () => {
    const { instance, mnt } = await mountedHam();
    await attachSleeper("inetd");
    await eventually(() => run("ls", mnt).stdout.split("\n").includes("inetd"), 2_000, "inetd in ls");
    expect(run("ls", "-a", mnt).stdout.split("\n").filter(Boolean).sort()).toEqual([".", "..", ".global", ".info", "hamfs", "inetd"]);
    for (const path of ["/.info", "/inetd/.info", "/inetd/death/.info", "/inetd/death/restart"]) {
      const viaMount = run("cat", join(mnt, path)).stdout;
      expect(viaMount).toBe(await instance.cat(path));
      expect(statSync(join(mnt, path)).size).toBe(Buffer.byteLength(viaMount));
    }
    expect(run("find", mnt).stdout.split("\n").filter(Boolean).map((path) => path.slice(mnt.length)).sort()).toEqual([
      "", "/.global", "/.global/.info", "/.info", "/hamfs", "/hamfs/.info", "/hamfs/death", "/hamfs/death/.info", "/hamfs/death/restart",
      "/inetd", "/inetd/.info", "/inetd/death", "/inetd/death/.info", "/inetd/death/restart",
    ]);
    const info = statSync(join(mnt, "inetd/.info"));
    expect(info.mode & 0o777).toBe(0o400);
    expect(statSync(join(mnt, "inetd")).mode & 0o777).toBe(0o500);
    expect(info.uid).toBe(process.getuid?.());
  });

  it("shows a restart in Num Restarts within moments", async () => {
    const { instance, mnt } = await mountedHam();
    await attachSleeper("inetd");
    process.kill(await entityPid(instance, "inetd"), "SIGKILL");
    const started = Date.now();
    await eventually(() => /Num Restarts {4}: 1\n/.test(run("cat", join(mnt, "inetd/.info")).stdout), 2_000, "Num Restarts 1 in the mount");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("refuses every change with EROFS, with the real tools", async () => {
    const { mnt } = await mountedHam();
    const info = join(mnt, ".info");
    const attempts: Array<[string, string[]]> = [
      ["sh", ["-c", `echo x > ${info}`]], ["sh", ["-c", `echo x >> ${info}`]], ["touch", [join(mnt, "new")]], ["mkdir", [join(mnt, "dir")]],
      ["rm", [info]], ["mv", [join(mnt, ".global"), join(mnt, "moved")]], ["chmod", ["777", info]], ["chown", ["nobody", info]],
      ["truncate", ["-s", "0", info]], ["ln", ["-s", "/tmp", join(mnt, "link")]], ["setfattr", ["-n", "user.x", "-v", "1", info]],
    ];
    for (const [tool, args] of attempts) {
      const result = run(tool, ...args);
      if (result.error !== undefined) continue; // the tool is not installed here (setfattr)
      expect(result.status, `${tool} ${args.join(" ")}`).not.toBe(0);
      expect(result.stderr, `${tool} ${args.join(" ")}`).toMatch(/Read-only file system/);
    }
  });

  it("comes back within a second when the fs process is killed, with no dead mount left", async () => {
    const { instance, mnt } = await mountedHam();
    const pid = await entityPid(instance, "hamfs");
    process.kill(pid, "SIGKILL");
    const killed = Date.now();
    await eventually(() => !isAlive(pid), 2_000, "hamfs gone");
    await eventually(async () => (await entityPid(instance, "hamfs")) !== pid && run("cat", join(mnt, ".info")).stdout.includes("Ham Pid"), 3_000, "the mount back");
    expect(Date.now() - killed).toBeLessThan(1_500);
    expect(run("ls", mnt).stderr).not.toMatch(/Transport endpoint/);
  });

  it("keeps answering across a takeover of the HAM", async () => {
    const { instance, mnt } = await mountedHam();
    const fsPid = await entityPid(instance, "hamfs");
    const { after } = await killHam(instance);
    const info = run("cat", join(mnt, ".info"));
    expect(info.status).toBe(0);
    expect(info.stdout).toContain(`Ham Pid            : ${after.hamPid}`);
    expect(await entityPid(instance, "hamfs")).toBe(fsPid);
  });

  it("clears a stale mount left by a crashed server before mounting", async () => {
    const base = mkdtempSync(join(tmpdir(), "hamd-stale-"));
    const mnt = join(base, "ham");
    mkdirSync(mnt);
    const server = spawn(process.execPath, [join(FIXTURES, "stale-mount.cjs"), mnt], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await eventually(() => server.stdout?.read() !== null, 10_000, "the old mount");
      server.kill("SIGKILL");
      await eventually(() => run("ls", mnt).stderr.includes("Transport endpoint is not connected"), 5_000, "a stale mount");
      const instance = await startHam(["--mount", mnt]);
      await eventually(() => run("cat", join(mnt, ".info")).stdout.includes("Ham Pid"), 10_000, "the view on the cleared mount point");
      expect(instance.logLines().some((line) => line["event"] === "mount")).toBe(true);
    } finally {
      server.kill("SIGKILL");
      await cleanup();
      unmountUnder(base);
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("opens the run directory, the socket and the view to the group of --group", async () => {
    const instance = await startHam(["--group", "daemon", "--mount", "{RUN_DIR}/ham"]);
    const mnt = join(instance.runDir, "ham");
    await eventually(() => mounted(mnt) && run("ls", "-a", mnt).stdout.includes(".info"), 10_000, "the mount");
    const daemonGid = 1; // Debian's "daemon" group
    for (const [path, mode] of [[instance.runDir, 0o750], [join(instance.runDir, "ham.sock"), 0o660], [join(mnt, ".info"), 0o440], [join(mnt, ".global"), 0o550]] as const) {
      const info = statSync(path);
      expect([path, info.mode & 0o777, info.gid]).toEqual([path, mode, daemonGid]);
    }
  });

  it("unmounts when the HAM stops", async () => {
    const { mnt } = await mountedHam();
    await ham.ham_stop();
    await eventually(() => !mounted(mnt), 5_000, "unmounted");
  });
});

// These need no FUSE: they run everywhere.
describe("ham without a /ham view", () => {
  it("rejects an unknown --group in one line", () => {
    expect(run(HAM_BIN, "--group", "no-such-group-here", "--no-mount").stderr).toMatch(/^ham: unknown group no-such-group-here/);
  });

  it("runs without FUSE, saying why in one log line, and hamctl still works", async () => {
    const instance = await startHam(["--mount", "{RUN_DIR}/ham"], { HAMD_FUSE_DEVICE: "/nonexistent/fuse" });
    const line = await eventually(() => instance.logLines().find((entry) => entry["event"] === "no-mount"), 5_000, "the no-mount line");
    expect(String(line["msg"])).toMatch(/\/nonexistent\/fuse does not exist.*install libfuse2 and fuse3/);
    expect(await instance.cat("/.info")).toContain("Num Entities       : 0");
    expect(mounted(join(instance.runDir, "ham"))).toBe(false);
  });
});
