/** The agent's package files the fake host leaves in, and reads from, its root directory. */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { versionOfFile } from "../../../src/domain/PackageFiles.js"

export type PackageFormat = "deb" | "rpm"

export interface PackageFiles {
  readonly root: string | undefined
  /** Leaves a package file of `version` in `dir` (a host path) under the root, if there is one. */
  readonly leave: (dir: string, version: string, format: PackageFormat) => Effect.Effect<void>
  /** Removes the package file of `version` from `dir`, if it is there. */
  readonly discard: (dir: string, version: string, format: PackageFormat) => Effect.Effect<void>
  /** The version a package file under the root holds; none when it is not there. */
  readonly versionOf: (hostPath: string, format: PackageFormat) => string | undefined
}

/** Where dnf (and here also yum) keeps the agent repository's packages. */
export const RPM_CACHE = "/var/cache/dnf/drivesrvr-1f2e3d4c5b6a7980/packages"
export const APT_CACHE = "/var/cache/apt/archives"
/** zypper's cache of the agent repository (`<alias>/`; the test repository's packages sit at its top). */
export const ZYPPER_CACHE = "/var/cache/zypp/packages/drivesrvr"

const fileName = (version: string, format: PackageFormat) =>
  format === "deb"
    ? `driveclient_${version.replace(/:/g, "%3a")}_amd64.deb`
    : `driveclient-${version.replace(/^\d+:/, "")}.x86_64.rpm`

export const make = (root: string | undefined): PackageFiles => ({
  root,
  leave: (dir, version, format) =>
    Effect.sync(() => {
      if (root === undefined) return
      fs.mkdirSync(path.join(root, dir), { recursive: true })
      fs.writeFileSync(path.join(root, dir, fileName(version, format)), `fake ${format} of driveclient ${version}\n`)
    }),
  discard: (dir, version, format) =>
    Effect.sync(() => {
      if (root !== undefined) fs.rmSync(path.join(root, dir, fileName(version, format)), { force: true })
    }),
  versionOf: (hostPath, format) =>
    root !== undefined && fs.existsSync(path.join(root, hostPath)) ? versionOfFile(format, path.basename(hostPath)) : undefined
})
