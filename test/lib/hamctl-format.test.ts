import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration } from "../../dist/lib/hamctl/ps-table.js";
import { parseCommandLine } from "../../dist/lib/hamctl/args.js";

describe("hamctl formats", () => {
  it("writes uptimes as 3s, 5m12s, 2h03m, 4d01h and sizes in KB, MB, GB", () => {
    expect([3_400, 312_000, 7_380_000, 349_200_000].map(formatDuration)).toEqual(["3s", "5m12s", "2h03m", "4d01h"]);
    expect([812 * 1024, 41.2 * 1024 ** 2, 1.3 * 1024 ** 3].map(formatBytes)).toEqual(["812 KB", "41.2 MB", "1.3 GB"]);
  });

  it("finds the command past a global flag's value, and keeps attach's command line whole", () => {
    expect(parseCommandLine(["--run-dir", "ps", "ps"])).toMatchObject({ kind: "run", runDir: "ps", command: { name: "ps" } });
    expect(parseCommandLine(["attach", "x", "--json", "--", "prog", "--json", "-n", "3"])).toMatchObject({
      json: true, operands: ["x"], rest: ["prog", "--json", "-n", "3"],
    });
    expect(parseCommandLine(["logs", "-fn5", "web"])).toMatchObject({ flags: { follow: true, lines: "5" }, operands: ["web"] });
    expect(parseCommandLine(["verbose", "-"])).toMatchObject({ operands: ["-"] });
  });
});
