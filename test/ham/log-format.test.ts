import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseHamArgs, UsageError } from "../../dist/ham/daemon/options.js";
import { cleanup, currentHamPid, entityPid, eventually, HAM_BIN, startHam, tempDir } from "../helpers/ham-instance.js";

afterEach(cleanup);

const TERMINAL = { isTTY: true, hasColors: true };
const PIPE = { isTTY: false, hasColors: false };
const RUN = ["--run-dir", "/tmp/hamd-options-only"];

describe("--log-format", () => {
  it("is pretty, in colour and wall-clock time, in the foreground on a terminal; JSON otherwise", () => {
    expect(parseHamArgs([...RUN, "--foreground"], TERMINAL)).toMatchObject({ logFormat: "pretty", logColor: true, timestamps: "shortabs" });
    expect(parseHamArgs([...RUN, "--foreground"], { isTTY: true, hasColors: false })).toMatchObject({ logFormat: "pretty", logColor: false });
    expect(parseHamArgs([...RUN, "--foreground"], PIPE)).toMatchObject({ logFormat: "json", logColor: false, timestamps: "relative" });
    // A log file, and the background daemon's RUN_DIR/ham.log, stay JSON lines.
    expect(parseHamArgs([...RUN, "--foreground", "-f", "/tmp/x.log"], TERMINAL)).toMatchObject({ logFormat: "json", timestamps: "relative" });
    expect(parseHamArgs([...RUN], TERMINAL)).toMatchObject({ logFormat: "json" });
  });

  it("overrides the choice, and -t still chooses the time", () => {
    expect(parseHamArgs([...RUN, "--foreground", "--log-format", "json"], TERMINAL)).toMatchObject({ logFormat: "json", logColor: false });
    expect(parseHamArgs([...RUN, "--foreground", "--log-format=pretty"], PIPE)).toMatchObject({ logFormat: "pretty", logColor: false, timestamps: "shortabs" });
    expect(parseHamArgs([...RUN, "--foreground", "--log-format", "pretty", "-t", "relative"], PIPE)).toMatchObject({ timestamps: "relative" });
    expect(parseHamArgs([...RUN, "--log-format", "json", "-f", "/tmp/x.log"], PIPE)).toMatchObject({ logFormat: "json" });
  });

  it("refuses a bad value, and pretty lines into a log file", () => {
    expect(() => parseHamArgs([...RUN, "--foreground", "--log-format", "yaml"], TERMINAL)).toThrow(new UsageError("--log-format takes pretty or json, not yaml"));
    expect(() => parseHamArgs([...RUN, "--foreground", "--log-format"], TERMINAL)).toThrow(UsageError);
    expect(() => parseHamArgs([...RUN, "--foreground", "--log-format", "pretty", "-f", "/tmp/x.log"], TERMINAL)).toThrow(/log files stay JSON lines/);
    expect(() => parseHamArgs([...RUN, "--log-format", "pretty"], TERMINAL)).toThrow(/log files stay JSON lines/);
    const result = spawnSync(HAM_BIN, [...RUN, "--foreground", "--log-format", "yaml"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr.split("\n")[0]).toBe("ham: --log-format takes pretty or json, not yaml");
  });
});

describe("the log on stderr", () => {
  const startWithSleeper = async (format: "pretty" | "json") => {
    const file = join(tempDir("log-format"), "ham.json");
    writeFileSync(file, JSON.stringify({ entities: [{ name: "worker", command: "/bin/sleep 1000" }] }));
    return startHam(["--config", file, "--log-format", format], {}, { logTo: "stderr" });
  };

  it("shows a death as one human line: time, level, entity, message", async () => {
    const instance = await startWithSleeper("pretty");
    const pid = await eventually(() => entityPid(instance, "worker"));
    process.kill(pid, "SIGKILL");
    const message = `worker (pid ${pid}) died: killed by SIGKILL`;
    const line = await eventually(() => instance.stderr().split("\n").find((text) => text.includes(message)), 5_000, "the death line");
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN: +\[worker\] worker \(pid \d+\) died: killed by SIGKILL$/);
    // No colour on a pipe, no JSON anywhere, one line per event.
    expect(instance.stderr()).not.toContain("\u001b");
    expect(instance.stderr()).not.toMatch(/[{}]/);
    expect(instance.stderr()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO: +HAM started$/m);
  });

  it("shows the same death as a JSON line with --log-format json", async () => {
    const instance = await startWithSleeper("json");
    const pid = await eventually(() => entityPid(instance, "worker"));
    process.kill(pid, "SIGKILL");
    const message = `worker (pid ${pid}) died: killed by SIGKILL`;
    const line = await eventually(() => instance.stderr().split("\n").find((text) => text.includes(message)), 5_000, "the death line");
    expect(JSON.parse(line)).toMatchObject({ level: "warn", event: "death", entity: "worker", pid, msg: message });
  });

  it("keeps the format when the Guardian takes over after SIGKILL of the HAM", async () => {
    const instance = await startWithSleeper("pretty");
    await eventually(() => instance.stderr().includes("Guardian ready"), 10_000, "a ready Guardian");
    const hamPid = currentHamPid(instance.runDir);
    process.kill(hamPid, "SIGKILL");
    const line = await eventually(() => instance.stderr().split("\n").find((text) => text.includes("took over from the dead HAM")), 10_000, "the takeover line");
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO: +took over from the dead HAM: 1 entities/);
    expect(instance.stderr()).not.toMatch(/[{}]/);
  });
});
