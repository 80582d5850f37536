/**
 * The real cloudbackup-updater packages, built by packaging/build.sh (as "npm run package" does)
 * into a scratch directory, and the stand-in nodejs package (fixtures/nodejs-shim) that meets
 * their dependency on nodejs (>= 18) in roots that only have the host's node binary copied in.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { execOk } from "./exec.js"
import { E2E_DIR, REPO_ROOT } from "./paths.js"

export const UPDATER = "cloudbackup-updater"

export interface UpdaterPackages {
  readonly deb: string
  readonly rpm: string
}

const packageVersion = async () =>
  (JSON.parse(await fs.readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version.replace(
    /-/g,
    "~"
  )

/** Both packages at `revision` (PACKAGE_REVISION), in `workDir`/revision-N. */
export const buildUpdaterPackages = async (workDir: string, revision: number): Promise<UpdaterPackages> => {
  const outDir = path.join(workDir, `revision-${revision}`)
  await execOk(["bash", path.join(REPO_ROOT, "packaging", "build.sh")], {
    env: { ...process.env, PACKAGE_REVISION: String(revision), PACKAGE_OUT_DIR: outDir },
    timeoutMs: 120_000
  })
  const version = await packageVersion()
  return {
    deb: path.join(outDir, `${UPDATER}_${version}-${revision}_all.deb`),
    rpm: path.join(outDir, `${UPDATER}-${version}-${revision}.noarch.rpm`)
  }
}

/** The stand-in nodejs package for node `version` (the binary copied into the roots), in `workDir`. */
export const buildNodejsShim = async (workDir: string, version: string): Promise<UpdaterPackages> => {
  const outDir = path.join(workDir, `nodejs-${version}`)
  await execOk(["sh", path.join(E2E_DIR, "fixtures", "nodejs-shim", "build-nodejs-shim.sh"), version, outDir])
  return {
    deb: path.join(outDir, `nodejs_${version}-0e2e1_all.deb`),
    rpm: path.join(outDir, `nodejs-${version}-0e2e1.noarch.rpm`)
  }
}
