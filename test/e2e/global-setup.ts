/**
 * Runs once per `vitest run`: waits for any other end-to-end run on this machine to finish,
 * removes leftovers of a crashed run, then builds the fixtures (key, packages) and makes sure
 * both root images exist (building them with mmdebstrap on a cold cache), in parallel.
 */
import type { TestProject } from "vitest/node"
import type { E2eContext } from "./lib/context.js"
import { buildFixtures, stopGpgAgent } from "./lib/fixtures.js"
import { cleanupStaleRoots } from "./lib/root.js"
import { ensureRootImage } from "./lib/rootImage.js"
import { acquireRunLock, releaseRunLock, RUN_LOCK } from "./lib/runLock.js"

const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await acquireRunLock({
    timeoutMs: 30 * 60_000,
    onWait: (pid) => log(`waiting for the end-to-end run of pid ${pid} to finish (${RUN_LOCK})`)
  })
  const began = Date.now()
  const [fixtures, apt, rpm] = await cleanupStaleRoots()
    .then(() => Promise.all([buildFixtures(), ensureRootImage("apt"), ensureRootImage("rpm")]))
    .catch(async (error: unknown) => {
      await releaseRunLock()
      throw error
    })
  for (const result of [apt, rpm]) {
    log(
      `${result.image.kind} root: ${result.built ? `built in ${result.buildMs} ms` : "cached"}, ` +
        `base tree ready after ${result.extractMs} ms`
    )
  }
  log(`fixtures and roots ready in ${Date.now() - began} ms`)
  const context: E2eContext = { runId: process.pid, fixtures, images: { apt: apt.image, rpm: rpm.image } }
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
