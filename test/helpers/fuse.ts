import { beforeAll, describe } from "vitest";
// The HAM's own check (device, libfuse.so.2, fusermount): it loads nothing, so deciding here
// never dlopens libfuse.so.2 the way fuse-native does. HAMD_FUSE_DEVICE=/nonexistent plays a
// machine without FUSE.
import { fuseProblem } from "../../dist/ham/daemon/mount.js";

// Why FUSE is not usable here, or null.
export const NO_FUSE: string | null = fuseProblem();
// HAMD_REQUIRE_FUSE=1 (set by .ci/run): a missing FUSE fails the FUSE tests instead of skipping them.
export const REQUIRE_FUSE = process.env["HAMD_REQUIRE_FUSE"] === "1";

// One line a user reads in the test output: what is missing, what to install.
export const skipLine = (problem: string) =>
  `skipped: no FUSE here: ${problem}. Install: apt-get install libfuse2 fuse3 (HAMD_REQUIRE_FUSE=1 fails instead)`;

// The error a FUSE test fails with under HAMD_REQUIRE_FUSE=1 on a machine without FUSE.
export const requiredLine = (problem: string) =>
  `HAMD_REQUIRE_FUSE=1 but FUSE is not usable here: ${problem}. Install: apt-get install libfuse2 fuse3`;

// A describe whose tests need a real FUSE mount. Without FUSE it is skipped, named with the
// reason, and says so in one line on stderr; under HAMD_REQUIRE_FUSE=1 every test in it fails
// with the reason instead, before any of them starts a FUSE process.
export function describeWithFuse(name: string, body: () => void): void {
  const problem = NO_FUSE;
  if (problem === null) {
    describe(name, body);
  } else if (REQUIRE_FUSE) {
    describe(name, () => {
      beforeAll(() => {
        throw new Error(requiredLine(problem));
      });
      body();
    });
  } else {
    console.warn(`${name}: ${skipLine(problem)}`);
    describe.skip(`${name} (${skipLine(problem)})`, body);
  }
}
