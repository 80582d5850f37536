/**
 * Runs once per `vitest run`: removes leftovers of a crashed run, then builds the fixtures
 * (key, packages) and makes sure both root images exist (building them with mmdebstrap on a
 * cold cache), in parallel.
 */
import type { TestProject } from "vitest/node"
import type { E2eContext } from "./lib/context.js"
import { buildFixtures, stopGpgAgent } from "./lib/fixtures.js"
import { cleanupStaleRoots } from "./lib/root.js"
import { ensureRootImage } from "./lib/rootImage.js"

const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now()
  await cleanupStaleRoots()
  const [fixtures, apt, rpm] = await Promise.all([buildFixtures(), ensureRootImage("apt"), ensureRootImage("rpm")])
  for (const result of [apt, rpm]) {
    log(
      `${result.image.kind} root: ${result.built ? `built in ${result.buildMs} ms` : "cached"}, ` +
        `base tree ready after ${result.extractMs} ms`
    )
  }
  log(`fixtures and roots ready in ${Date.now() - began} ms`)
  const context: E2eContext = { fixtures, images: { apt: apt.image, rpm: rpm.image } }
  project.provide("e2e", context)
  return async () => {
    await stopGpgAgent(fixtures.gnupgHome)
    await cleanupStaleRoots()
  }
}
