/**
 * The agent's state as `dpkg-query -W -f='${db:Status-Status} ${Version}\n' driveclient`
 * prints it: one `state version` line per architecture.
 */
import * as Option from "effect/Option"

/** dpkg states of a package whose installation or configuration was left half-way. */
const UNFINISHED_STATES: ReadonlySet<string> = new Set([
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending"
])

/** dpkg states in which the package's files are (at least partly) on disk. */
const PRESENT_STATES: ReadonlySet<string> = new Set(["installed", ...UNFINISHED_STATES])

export interface DpkgPackage {
  readonly state: string
  readonly version: string
}

export const isUnfinished = (dpkgPackage: DpkgPackage): boolean => UNFINISHED_STATES.has(dpkgPackage.state)

/** The `state version` lines, one per architecture. */
export const dpkgPackages = (stdout: string): ReadonlyArray<DpkgPackage> =>
  stdout.split("\n").flatMap((line) => {
    const match = /^(\S+) (\S+)$/.exec(line.trim())
    return match === null ? [] : [{ state: match[1]!, version: match[2]! }]
  })

/**
 * The agent's version. A package left half-way counts as installed, so that the next
 * upgrade repairs it; one removed with its configuration kept (`config-files`) does not.
 */
export const parseDpkgQuery = (stdout: string): Option.Option<string> => {
  const packages = dpkgPackages(stdout)
  const present = packages.find(({ state }) => state === "installed") ??
    packages.find(({ state }) => PRESENT_STATES.has(state))
  return Option.fromNullable(present?.version)
}

/** The agent's dpkg state when an interrupted transaction left it half-way (`half-configured`...). */
export const unfinishedState = (stdout: string): Option.Option<string> =>
  Option.fromNullable(dpkgPackages(stdout).find(isUnfinished)?.state)
