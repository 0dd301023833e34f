import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GroupWatch } from "../../dist/lab/group-watch.js";
import type { Run } from "../../dist/lab/run.js";
import { eventually } from "../helpers/ham-instance.js";

// The lab's judge of a service group's members, fed by hand: two live processes (sleep)
// stand in for members and "report" through their own sockets, as lab/member.ts does.

const opened: Array<{ close: () => void }> = [];
afterEach(() => {
  for (const item of opened.splice(0)) item.close();
});

async function setUp(allowanceMs = 0) {
  const dir = mkdtempSync(join(tmpdir(), "lab-group-watch-"));
  const watch = new GroupWatch(join(dir, "lab.sock"), "g", ["a", "b"]);
  await watch.listen();
  const violations: Array<{ invariant: string; detail: string }> = [];
  const run = { violate: (invariant: string, detail: string) => violations.push({ invariant, detail }), watch: () => undefined, hamFaultAllowance: () => allowanceMs };
  watch.attach(run as unknown as Run);
  const children: ChildProcess[] = [];
  opened.push({ close: () => {
    for (const child of children) child.kill("SIGKILL");
    watch.close();
    rmSync(dir, { recursive: true, force: true });
  } });
  const member = async (entity: string) => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    children.push(child);
    const socket = await new Promise<Socket>((resolve) => {
      const client: Socket = connect(watch.socketPath, () => resolve(client));
    });
    const pid = child.pid ?? 0;
    const say = (fields: Record<string, unknown>, at = process.hrtime.bigint()) =>
      new Promise<void>((resolve) => socket.write(`${JSON.stringify({ entity, pid, at: String(at), ...fields })}\n`, () => resolve()));
    await say({ kind: "hello" });
    return { child, say, role: (role: string, at?: bigint) => say({ kind: "role", role, seq: 1 }, at) };
  };
  return { watch, violations, member };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("the lab's group watch", () => {
  it("finds two live members that both say they are active", async () => {
    const { watch, violations, member } = await setUp();
    const a = await member("a");
    const b = await member("b");
    await eventually(() => watch.processes.length === 2);
    await a.role("active");
    await b.role("active");
    await settle();
    expect(violations.map((item) => item.invariant)).toEqual(["at most one active"]);
    expect(violations[0]?.detail).toMatch(/^b \(pid \d+\) said active .* while a \(pid \d+, alive\) had said active/);
  });

  it("accepts a standby said before another's active even when it is read after it", async () => {
    const { watch, violations, member } = await setUp();
    const a = await member("a");
    const b = await member("b");
    await eventually(() => watch.processes.length === 2);
    await a.role("active");
    const quiesced = process.hrtime.bigint();
    await b.role("active", quiesced + 1_000n);
    await a.role("quiesced", quiesced);
    await settle();
    expect(violations).toEqual([]);
  });

  it("accepts a new active once the old one is dead", async () => {
    const { watch, violations, member } = await setUp();
    const a = await member("a");
    const b = await member("b");
    await eventually(() => watch.processes.length === 2);
    await a.role("active");
    const gone = new Promise((resolve) => a.child.once("exit", resolve));
    a.child.kill("SIGKILL");
    await gone;
    await b.role("active");
    await settle();
    expect(violations).toEqual([]);
  });

  it("judges the time to an active again, with an allowance for HAM faults", async () => {
    for (const [allowance, expected] of [[0, ["active again in time"]], [1_000, []]] as const) {
      const { watch, violations, member } = await setUp(allowance);
      const b = await member("b");
      await eventually(() => watch.processes.length === 1);
      const at = process.hrtime.bigint();
      watch.awaitActive("kill-active", "a", Number(at) / 1e6);
      await b.role("active", at + 1_500_000_000n);
      await settle();
      expect(violations.map((item) => item.invariant)).toEqual(expected);
      expect(watch.activeAgainMs.length + watch.activeAgainDuringHamFaultMs.length).toBe(1);
    }
  });
});
