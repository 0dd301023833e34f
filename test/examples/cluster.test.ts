import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { pidsWithEnv } from "../../dist/lib/proc.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { eventually, HAMCTL_BIN, ROOT } from "../helpers/ham-instance.js";

// examples/cluster as a newcomer runs it: one command starts etcd and three nodes with the 2N
// group db across n1 and n2; the printed kill line ends the active's node, db on the other node
// takes over; Ctrl-C ends everything.

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGINT");
});

describeWithEtcd("examples/cluster", () => {
  it("runs etcd and three nodes in one command; killing the active's node makes db on the other node active", async () => {
    const child = spawn(process.execPath, [join(ROOT, "examples/cluster/run.mjs")], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const killLine = await eventually(() => /kill -9 ([\d ]+)\n/.exec(out)?.[1], 30_000, `a kill line in: ${out}`);
    const activeNode = /db@(n\d) \(pid \d+\): active\n/.exec(out)?.[1];
    const other = activeNode === "n1" ? "n2" : "n1";
    expect(out).toMatch(/hamctl\/main\.js --run-dir \S+ nodes/);
    // hamctl nodes on the active's node: the members db hosts, the active's marked.
    const activeRunDir = new RegExp(`node ${activeNode}: run directory (\\S+)`).exec(out)?.[1] ?? "";
    const table = await eventually(() => {
      const printed = spawnSync(process.execPath, [HAMCTL_BIN, "--run-dir", activeRunDir, "nodes"], { encoding: "utf8" }).stdout;
      return printed.includes("(active)") ? printed : undefined;
    }, 10_000, `hamctl nodes on ${activeRunDir} naming the active`);
    expect(table).toMatch(/^NAME .* HOSTS$/m);
    expect(table).toMatch(new RegExp(`^${activeNode} \\(self\\) .* db/db \\(active\\)$`, "m"));
    expect(table).toMatch(new RegExp(`^${other} .* db/db$`, "m"));
    expect(table).toMatch(/^n3 .* -$/m);
    const killedAt = performance.now();
    for (const pid of killLine.trim().split(/ +/).map(Number)) process.kill(pid, "SIGKILL");
    await eventually(() => new RegExp(`db@${other} \\(pid \\d+\\): active\\n`).test(out), 10_000, `db@${other} active in: ${out}`);
    console.log(`node ${activeNode} killed -> db@${other} active in ${Math.round(performance.now() - killedAt)} ms`);
    const runDirs = [...out.matchAll(/run directory (\S+)/g)].map((match) => match[1] ?? "");
    expect(runDirs).toHaveLength(3);
    child.kill("SIGINT");
    await exited;
    expect(out).toContain("everything ended");
    for (const runDir of runDirs) {
      expect(pidsWithEnv(`HAM_RUN_DIR=${runDir}`)).toEqual([]);
      expect(existsSync(runDir)).toBe(false);
    }
  }, 60_000);
});
