import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// The end-to-end suite: run as root (it mounts overlays and chroots), one file at a time.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    // Building both roots from scratch takes well under a minute; leave room for a slow mirror.
    hookTimeout: 600_000,
    testTimeout: 240_000,
    teardownTimeout: 60_000,
    fileParallelism: false,
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    sequence: { concurrent: false },
    reporters: ["default"]
  }
})
