import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real HAMs and processes; two cores: keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
