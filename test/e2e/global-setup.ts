/**
 * Runs once per `vitest run`: waits for any other end-to-end run on this machine to finish,
 * removes leftovers of a crashed run, then builds the fixtures (key, packages) and makes sure
 * the root images exist (building them with mmdebstrap on a cold cache), in parallel: apt and
 * rpm always, zypper when the run needs it (see needsZypperRoot).
 */
import * as fs from "node:fs/promises"
import type { TestProject } from "vitest/node"
import type { E2eContext } from "./lib/context.js"
import { buildFixtures, stopGpgAgent } from "./lib/fixtures.js"
import { cleanupStaleRoots } from "./lib/root.js"
import { ensureRootImage, type RootKind } from "./lib/rootImage.js"
import { acquireRunLock, releaseRunLock, RUN_LOCK } from "./lib/runLock.js"

const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`)

/**
 * E2E_ZYPPER=1, or a test file of this run that names ALL_PMS or "zypper". Vitest has collected
 * the files it is about to run before it calls the global setup; should it ever not have, the
 * root is built rather than missed.
 */
const needsZypperRoot = async (project: TestProject): Promise<boolean> => {
  if (process.env["E2E_ZYPPER"] === "1") return true
  const files = project.vitest.state.getPaths()
  if (files.length === 0) return true
  const sources = await Promise.all(files.map((file) => fs.readFile(file, "utf8").catch(() => "")))
  return sources.some((source) => /\bALL_PMS\b|["']zypper["']/.test(source))
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await acquireRunLock({
    timeoutMs: 30 * 60_000,
    onWait: (pid) => log(`waiting for the end-to-end run of pid ${pid} to finish (${RUN_LOCK})`)
  })
  const began = Date.now()
  const [fixtures, ...results] = await cleanupStaleRoots()
    .then(async () => {
      const kinds: RootKind[] = (await needsZypperRoot(project)) ? ["apt", "rpm", "zypper"] : ["apt", "rpm"]
      return Promise.all([buildFixtures(), ...kinds.map(ensureRootImage)])
    })
    .catch(async (error: unknown) => {
      await releaseRunLock()
      throw error
    })
  for (const result of results) {
    log(
      `${result.image.kind} root: ${result.built ? `built in ${result.buildMs} ms` : "cached"}, ` +
        `base tree ready after ${result.extractMs} ms`
    )
  }
  log(`fixtures and roots ready in ${Date.now() - began} ms`)
  const images = Object.fromEntries(results.map((result) => [result.image.kind, result.image]))
  const context: E2eContext = { runId: process.pid, fixtures, images }
  project.provide("e2e", context)
  return async () => {
    try {
      await stopGpgAgent(fixtures.gnupgHome)
      await cleanupStaleRoots()
    } finally {
      await releaseRunLock()
    }
  }
}
