/**
 * The built executable (dist/cloudbackup-updater.js, `npm run build`), run as a test runs it: an
 * empty PATH (no package manager or service tool can be reached), HOME in the temp dir and no
 * options file of this machine's.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const BUNDLE = path.resolve(__dirname, "../../dist/cloudbackup-updater.js")

/** Not this machine's options file: none. */
export const NO_OPTIONS_FILE = "/nonexistent/cloudbackup-updater"

export const bundleEnv = (env: Record<string, string> = {}): Record<string, string> => ({
  PATH: "/nonexistent",
  HOME: os.tmpdir(),
  CLOUDBACKUP_UPDATER_OPTIONS_FILE: NO_OPTIONS_FILE,
  ...env
})

export interface BundleRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const runBundle = (args: ReadonlyArray<string>, options: { readonly timeoutMs?: number } = {}): BundleRun => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`)
  const result = spawnSync(process.execPath, [BUNDLE, ...args], {
    env: bundleEnv(),
    encoding: "utf8",
    timeout: options.timeoutMs ?? 20_000
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
