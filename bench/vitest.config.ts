import { defineConfig } from "vitest/config"
import e2e from "../test/e2e/vitest.config.js"

// Benchmarks that need the end-to-end roots: the e2e suite's setup, these files only.
export default defineConfig({ ...e2e, test: { ...e2e.test, include: ["bench/**/*.e2e.ts"] } })
