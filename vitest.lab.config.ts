import { defineConfig } from "vitest/config";

// The fault lab's brief runs, after the rest of the suite and alone: the lab loads both
// cores on its own, and timing-sensitive tests beside it would measure the lab, not hamd.
export default defineConfig({
  test: {
    include: ["test/lab/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 30_000,
    maxWorkers: 1,
    minWorkers: 1,
  },
});
