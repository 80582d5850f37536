/**
 * Runs once per `vitest run`: waits for any other end-to-end run on this machine to finish,
 * removes leftovers of a crashed run, then builds the fixtures (key, packages) and makes sure
 * the root images exist (building them with mmdebstrap on a cold cache), in parallel: apt and
 * rpm always, zypper, systemd, systemd-rpm and the platform matrix's when the run needs them (see
 * needsZypperRoot, needsSystemdRoot, needsSystemdRpmRoot, needsMatrixRoots).
 */
import * as fs from "node:fs/promises"
import type { TestProject } from "vitest/node"
import type { E2eContext } from "./lib/context.js"
import { buildFixtures, stopGpgAgent } from "./lib/fixtures.js"
import { cleanupStaleBoots } from "./lib/booted.js"
import { cleanupStaleRoots } from "./lib/root.js"
import { ensureRootImage, MATRIX_KINDS, type RootKind } from "./lib/rootImage.js"
import { acquireRunLock, releaseRunLock, RUN_LOCK } from "./lib/runLock.js"

const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`)

/**
 * Whether the run needs an optional root: the environment variable is "1", or a test file of this
 * run matches `pattern`. Vitest has collected the files it is about to run before it calls the
 * global setup; should it ever not have, the root is built rather than missed.
 */
const needsRoot = async (project: TestProject, variable: string, pattern: RegExp): Promise<boolean> => {
  if (process.env[variable] === "1") return true
  const files = project.vitest.state.getPaths()
  if (files.length === 0) return true
  const sources = await Promise.all(files.map((file) => fs.readFile(file, "utf8").catch(() => "")))
  return sources.some((source) => pattern.test(source))
}

/** E2E_ZYPPER=1, or a test file that names ALL_PMS or "zypper". */
const needsZypperRoot = (project: TestProject) => needsRoot(project, "E2E_ZYPPER", /\bALL_PMS\b|["']zypper["']/)

/** E2E_SYSTEMD=1, or a test file that boots systemd (imports lib/booted.js). */
const needsSystemdRoot = (project: TestProject) => needsRoot(project, "E2E_SYSTEMD", /["']\.\/lib\/booted\.js["']/)

/** E2E_SYSTEMD_RPM=1, or a test file that names the kind "systemd-rpm" (systemd-rpm.test.ts boots it). */
const needsSystemdRpmRoot = (project: TestProject) => needsRoot(project, "E2E_SYSTEMD_RPM", /["']systemd-rpm["']/)

/** E2E_MATRIX=1, or a test file that names a kind of the platform matrix ("debian11", ...). */
const needsMatrixRoots = (project: TestProject) =>
  needsRoot(project, "E2E_MATRIX", new RegExp(`["'](?:${MATRIX_KINDS.join("|")})["']`))

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await acquireRunLock({
    timeoutMs: 30 * 60_000,
    onWait: (pid) => log(`waiting for the end-to-end run of pid ${pid} to finish (${RUN_LOCK})`)
  })
  const began = Date.now()
  const [fixtures, ...results] = await cleanupStaleRoots()
    .then(cleanupStaleBoots)
    .then(async () => {
      const kinds: RootKind[] = ["apt", "rpm"]
      if (await needsZypperRoot(project)) kinds.push("zypper")
      if (await needsSystemdRoot(project)) kinds.push("systemd")
      if (await needsSystemdRpmRoot(project)) kinds.push("systemd-rpm")
      if (await needsMatrixRoots(project)) kinds.push(...MATRIX_KINDS)
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
      await cleanupStaleBoots()
    } finally {
      await releaseRunLock()
    }
  }
}
