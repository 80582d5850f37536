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

/**
 * The package flavours (packaging/build.sh's PACKAGE_FLAVOUR): "noarch" runs on the host's
 * /usr/bin/node, "bundled" carries its own Node.js (amd64 here).
 */
export type Flavour = "noarch" | "bundled"

/** Both packages of `flavour` at `revision` (PACKAGE_REVISION), in `workDir`/<flavour>-revision-N. */
export const buildUpdaterPackages = async (
  workDir: string,
  revision: number,
  flavour: Flavour = "noarch"
): Promise<UpdaterPackages> => {
  const outDir = path.join(workDir, flavour === "noarch" ? `revision-${revision}` : `${flavour}-revision-${revision}`)
  const flavourEnv = flavour === "noarch" ? {} : { PACKAGE_FLAVOUR: flavour, PACKAGE_ARCH: "amd64" }
  await execOk(["bash", path.join(REPO_ROOT, "packaging", "build.sh")], {
    env: { ...process.env, ...flavourEnv, PACKAGE_REVISION: String(revision), PACKAGE_OUT_DIR: outDir },
    timeoutMs: 300_000
  })
  const version = await packageVersion()
  const [debArch, rpmArch] = flavour === "noarch" ? ["all", "noarch"] : ["amd64", "x86_64"]
  return {
    deb: path.join(outDir, `${UPDATER}_${version}-${revision}_${debArch}.deb`),
    rpm: path.join(outDir, `${UPDATER}-${version}-${revision}.${rpmArch}.rpm`)
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

/**
 * `rpmbuild -bb` of `spec` in the build tree `top` (with a database of its own there, not the
 * host's), each of `defines` as --define "NAME VALUE".
 */
export const rpmbuild = (spec: string, top: string, defines: Readonly<Record<string, string>> = {}) =>
  execOk(
    [
      "rpmbuild",
      "-bb",
      "--quiet",
      ...[["_topdir", top], ["_dbpath", path.join(top, "rpmdb")], ...Object.entries(defines)].flatMap(([name, value]) => [
        "--define",
        `${name} ${value}`
      ]),
      spec
    ],
    { timeoutMs: 120_000 }
  )

/** fixtures/nodejs-shim/nodejs-rhel.spec built into `workDir`: RHEL's nodejs 1:16.20.2 as rpm sees it. */
export const buildRhelNodejs = async (workDir: string): Promise<string> => {
  const top = path.join(workDir, "nodejs-rhel")
  await rpmbuild(path.join(E2E_DIR, "fixtures", "nodejs-shim", "nodejs-rhel.spec"), top)
  return path.join(top, "RPMS", "noarch", "nodejs-16.20.2-1.module_el8.8.0+1285+4e7c5a12.noarch.rpm")
}
