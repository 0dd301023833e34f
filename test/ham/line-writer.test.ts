import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LineWriter } from "../../dist/ham/adapters/line-writer.js";
import { eventually, FIXTURES } from "../helpers/ham-instance.js";
import { PidKeeper } from "../helpers/processes.mjs";

const keeper = new PidKeeper();
afterEach(() => keeper.killAll());

describe("the activity log's line writer", () => {
  it("counts and drops a line a full disk refuses (ENOSPC), and goes on", () => {
    const writer = LineWriter.open("/dev/full");
    writer.write("one\n");
    writer.write("two\n");
    expect(writer.failures).toBe(2);
  });

  it("drops a line a full pipe refuses (EAGAIN), counts it, and starts the next one on a line of its own", async () => {
    const child = spawn(process.execPath, [join(FIXTURES, "fill-stderr.mjs")], { stdio: ["ignore", "pipe", "pipe"] });
    keeper.add(child.pid ?? 0);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise((resolve) => child.once("close", resolve));
    // The pipe is read only once the writer has met it full.
    await eventually(() => out.startsWith("refused "), 10_000, "a refused line");
    expect(Number(out.split(" ")[1])).toBeGreaterThan(0);
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    await exited;
    const lines = err.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.at(-1)).toBe(JSON.stringify({ marker: true }));
    // Whole lines, and at most one cut short by the refusal: never two glued together.
    const whole = JSON.stringify({ pad: "x".repeat(100_000) });
    const cut = lines.slice(0, -1).filter((line) => line !== whole);
    expect(cut.length).toBeLessThanOrEqual(1);
    for (const line of cut) expect(whole.startsWith(line)).toBe(true);
  });
});
