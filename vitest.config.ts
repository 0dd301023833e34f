import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The fault lab runs after the rest, alone (vitest.lab.config.ts).
    exclude: ["test/lab/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real HAMs and processes; two cores: keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
