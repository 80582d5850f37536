/**
 * Agent package files by name: which version a `.deb` or `.rpm` in a cache or in
 * the updater's kept packages holds, and which kept files to drop.
 */
import { AGENT_PACKAGE } from "./Agent.js"

export type PackageFormat = "deb" | "rpm"

const DEB_FILE = new RegExp(`^${AGENT_PACKAGE}_([^_]+)_[a-z0-9-]+\\.deb$`)
const RPM_FILE = new RegExp(`^${AGENT_PACKAGE}-(\\d[^-]*-[^-]+)\\.[a-z0-9_]+\\.rpm$`)

/**
 * The package version a file name holds: `driveclient_1:1.1.0-1_amd64.deb` (apt's cache
 * writes the epoch's colon as `%3a`) → `1:1.1.0-1`; `driveclient-1.1.0-1.el9.x86_64.rpm`
 * → `1.1.0-1.el9` (rpm file names carry no epoch).
 */
export const versionOfFile = (format: PackageFormat, name: string): string | undefined => {
  if (format === "deb") {
    const match = DEB_FILE.exec(name)
    return match === null ? undefined : decodeURIComponent(match[1]!)
  }
  const match = RPM_FILE.exec(name)
  return match === null ? undefined : match[1]
}

/** The version without an rpm epoch, as file names carry it. */
const withoutRpmEpoch = (version: string): string => version.replace(/^\d+:/, "")

/** Whether the file `name` holds the agent at `version`. */
export const isFileOf = (format: PackageFormat, name: string, version: string): boolean => {
  const held = versionOfFile(format, name)
  if (held === undefined) return false
  return format === "deb" ? held === version : held === withoutRpmEpoch(version)
}

/** The kept files to remove so that only packages of `keep` remain. */
export const keptFilesToDrop = (
  format: PackageFormat,
  names: ReadonlyArray<string>,
  keep: ReadonlyArray<string>
): ReadonlyArray<string> =>
  names.filter((name) =>
    versionOfFile(format, name) !== undefined && !keep.some((version) => isFileOf(format, name, version))
  )
