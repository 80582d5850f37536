import { defineConfig } from "vitest/config"

// Benchmarks at the program level (no roots): bench/*.measure.ts.
export default defineConfig({ test: { include: ["bench/**/*.measure.ts"], testTimeout: 600_000 } })
