/**
 * The upgrade's transaction without apt's resolver: when apt's plan for installing the agent is
 * that package alone, the archive `apt-get install -d` left in apt's cache before the agent was
 * stopped (the file `apt-get install` would hand to dpkg) goes to `dpkg -i` while the agent is
 * down: what apt would run for it, less apt's own set-up and hooks. The plan holds only while
 * dpkg's database and the archive stay as they were when apt made it; anything else goes through
 * `apt-get install`.
 */
import * as fs from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import type { CommandResult } from "../../../services/Shell.js"
import { lastLine } from "../../../services/Shell.js"
import { underRoot } from "../../internal/HostFiles.js"

/** dpkg's database: its status file, and the journal of a run that has not folded it in yet. */
export const DPKG_STATUS = "/var/lib/dpkg/status"
export const DPKG_UPDATES = "/var/lib/dpkg/updates"

/** What a file was when the plan was made: any write or replacement changes it. */
export interface FileIdentity {
  readonly ino: bigint
  readonly size: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
}

export const sameIdentity = (a: FileIdentity, b: FileIdentity): boolean =>
  a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs

/** A downloaded archive that `dpkg -i` may install, and the state of dpkg's database it was planned against. */
export interface ArchivePlan {
  /** Host path of the archive in apt's cache. */
  readonly file: string
  readonly version: string
  readonly archive: FileIdentity
  readonly database: FileIdentity
}

/** The identity of a file under the root; none when it is not a regular file. */
export const identityOf = (root: string, hostPath: string): Effect.Effect<Option.Option<FileIdentity>> =>
  Effect.promise(() =>
    fs.stat(underRoot(root, hostPath), { bigint: true }).then(
      (stats) =>
        stats.isFile()
          ? Option.some({ ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs })
          : Option.none(),
      () => Option.none()
    )
  )

/**
 * dpkg's database as one identity, when it is at rest: none without a status file, or while
 * dpkg's journal holds entries (an interrupted run, or one under way).
 */
export const databaseAtRest = (root: string): Effect.Effect<Option.Option<FileIdentity>> =>
  Effect.gen(function*() {
    const pending = yield* Effect.promise(() =>
      fs.readdir(underRoot(root, DPKG_UPDATES)).then(
        (names) => names.some((name) => /^\d+$/.test(name)),
        () => false
      )
    )
    return pending ? Option.none() : yield* identityOf(root, DPKG_STATUS)
  })

/** apt's binary cache of the package lists and of dpkg's status. */
export const APT_PKGCACHE = "/var/cache/apt/pkgcache.bin"

/**
 * After dpkg ran without apt: apt checks its cache against dpkg's status file by size and
 * mtime in whole seconds, so a status of the same size written within the same second (1.1.0-1
 * replaced by 1.2.0-1) would leave apt reading the old state until something else changes. apt
 * rebuilds a cache that is missing; it rebuilds its own after each of its transactions.
 */
export const dropAptCache = (root: string): Effect.Effect<void> =>
  Effect.promise(() => fs.rm(underRoot(root, APT_PKGCACHE), { force: true }).catch(() => undefined))

const PLAN_LINE = /^(Inst|Conf|Remv|Purg) (\S+)(?: \[[^\]]*\])?(?: \((\S+))?/

/**
 * The version `apt-get install -s` would install, when its plan changes the agent's package and
 * nothing else: one `Inst` and `Conf` of the agent, no other package installed, configured or
 * removed. None otherwise.
 */
export const singlePackagePlan = (stdout: string): Option.Option<string> => {
  const steps = stdout.split("\n").flatMap((line) => {
    const match = PLAN_LINE.exec(line.trim())
    return match === null ? [] : [{ action: match[1]!, name: match[2]!.replace(/:[a-z0-9-]+$/, ""), version: match[3] }]
  })
  if (steps.length === 0 || steps.some((step) => step.name !== AGENT_PACKAGE)) return Option.none()
  const installs = steps.filter((step) => step.action === "Inst")
  if (installs.length !== 1 || steps.some((step) => step.action === "Remv" || step.action === "Purg")) return Option.none()
  return Option.fromNullable(installs[0]!.version)
}

/**
 * The line of a failed `dpkg -i` that says why: dpkg's `error processing` line with the reason on
 * the line after it, else its `dpkg: error` line, else the last line.
 */
export const dpkgFailureLine = (result: CommandResult): string => {
  const lines = `${result.stderr}\n${result.stdout}`.split("\n").map((line) => line.trimEnd())
  const last = (test: RegExp) => {
    for (let at = lines.length - 1; at >= 0; at--) if (test.test(lines[at]!)) return at
    return -1
  }
  const processing = last(/^dpkg: error processing /)
  if (processing >= 0) {
    const reason = lines[processing + 1]?.trim()
    return reason === undefined || reason === "" ? lines[processing]! : `${lines[processing]!} ${reason}`
  }
  const error = last(/^dpkg: error/)
  return error >= 0 ? lines[error]! : lastLine(result)
}

/** debconf's own hook (apt.conf.d/70debconf): it preconfigures questions, which a non-interactive upgrade does not ask. */
const DEBCONF_PRECONFIGURE = /^\/usr\/sbin\/dpkg-preconfigure --apt\b/

/**
 * What apt's configuration (`apt-config dump`) runs or passes around dpkg that `dpkg -i` alone
 * would skip: Pre-/Post-Invoke commands (etckeeper, needrestart, a container's cache cleaning),
 * Pre-/Post-Install-Pkgs hooks but debconf's preconfiguration, dpkg options. Each as its dump
 * line; none means `dpkg -i` does what `apt-get install` would.
 */
export const aptDpkgHooks = (dump: string): ReadonlyArray<string> =>
  dump.split("\n").flatMap((raw) => {
    const line = raw.trim()
    const match = /^DPkg::(Pre-Invoke|Post-Invoke|Pre-Install-Pkgs|Post-Install-Pkgs|Options)::\s+"(.*)";$/i.exec(line)
    if (match === null || match[2] === "") return []
    if (/^Pre-Install-Pkgs$/i.test(match[1]!) && DEBCONF_PRECONFIGURE.test(match[2]!)) return []
    return [line]
  })
