import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/ham-instance.js";

// The seed's scenario, run as a user runs it: a HAM supervises a FUSE file server with a
// multistage recovery; a client reads through ha_open/ha_dup while the server is SIGKILLed.
describe("examples/nfs-recovery", () => {
  it("reads the whole file, in order, across the server's death, with one recovery", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "examples/nfs-recovery/run.mjs")], { encoding: "utf8", timeout: 60_000 });
    expect(run.stdout).toContain("killing the nfs server");
    expect(run.stdout).toContain("read 4000000 bytes, all in order; total recoveries, 1");
    expect(run.stderr).toContain("nfs server restarted and mounted");
    expect(run.status).toBe(0);
  });
});
