/**
 * PackageManager for zypper (SLES, openSUSE). The agent repository is the vendor's `.repo` file
 * in `/etc/zypp/repos.d`; its signing key is imported with `rpm --import` once it is checked,
 * never by zypper's `--gpg-auto-import-keys`, which trusts whatever key a server offers; a
 * rotated key is fetched and imported again when `refresh` fails on it. The administrator's
 * locks (`zypper addlock`) are read as holds. Files are read and written under `root`; the
 * commands name the real host paths.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import { fingerprintOrWhy } from "../../../domain/OpenPgpKey.js"
import { compareRpmVersions, isRpmVersion } from "../../../domain/RpmVersions.js"
import { agentRepositoryKeys, YUM_REPO_SECTION } from "../../../domain/YumRepoFile.js"
import {
  locksHoldAgent,
  searchCandidate,
  ZYPPER_EXIT_NOT_FOUND,
  ZYPPER_EXIT_REPOS_SKIPPED,
  ZYPPER_EXIT_RPM_SCRIPT_FAILED,
  zypperFailureLine,
  zypperKeyErrorLine
} from "../../../domain/ZypperOutput.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerShape,
  repositoryStateOf,
  type SecuredPackage
} from "../../../services/PackageManager.js"
import { Repository } from "../../../services/Repository.js"
import { Shell } from "../../../services/Shell.js"
import { STATE_DIR, type UpdaterConfig } from "../../../services/UpdaterConfig.js"
import { makeDirectory, readTextIfExists, underRoot, writeFileAtomically } from "../../internal/HostFiles.js"
import { findKept, findPackageFile, keep, keepFromCache, subdirectories } from "../../internal/KeptPackages.js"
import {
  C_LOCALE_ENV,
  FETCH_TIMEOUT,
  fileFailure,
  packageCommands,
  QUERY_TIMEOUT,
  TRANSACTION_TIMEOUT
} from "../../internal/PackageCommands.js"
import { repoFiles } from "../rpm/RepoFiles.js"
import * as RpmDatabase from "../rpm/RpmDatabase.js"
import { awaitNoTransaction } from "../rpm/RpmTransactionLocks.js"

export interface ZypperOptions {
  readonly root: string
}

const REPOS_DIR = "/etc/zypp/repos.d"
/** zypper's own lock: the pid of the zypper (or YaST) at work. */
export const ZYPP_PID_FILES = ["/run/zypp.pid", "/var/run/zypp.pid"]
/** Where zypper downloads packages: `<alias>/<location in the repository>`. */
const PACKAGE_CACHE = "/var/cache/zypp/packages"
/** The repository's signing key as fetched and checked, for `rpm --import`. */
const KEY_FILE = `${STATE_DIR}/${YUM_REPO_SECTION}-signing-key.asc`

/** Another zypper (or YaST) at work is waited for, as apt waits for dpkg's lock, rather than failing at once. */
export const ZYPPER_ENV: Readonly<Record<string, string>> = { ...C_LOCALE_ENV, ZYPP_LOCK_TIMEOUT: "300" }

const ZYPPER = ["zypper", "--non-interactive"] as const

/** Why a key URL is not fetched again, by the repository policy: https only, plain http when `-r` is plain http itself. */
const keyUrlRefusal = (url: string, base: string): string | undefined =>
  url.startsWith("https://") || (url.startsWith("http://") && base.startsWith("http://"))
    ? undefined
    : url.startsWith("http://")
    ? `the key ${url} is not fetched again over plain http: the repository policy allows http only when -r is http itself, and -r is ${base}`
    : `the key ${url} is not an https:// URL`

export const make = (options: ZypperOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
    const repository = yield* Repository
    const commands = packageCommands(shell, ZYPPER_ENV, zypperFailureLine)
    const onHost = (hostPath: string) => underRoot(options.root, hostPath)
    const agentRepository = repoFiles(options.root, REPOS_DIR, "zypper", repository.base)

    const installedVersions = RpmDatabase.installedVersions(commands)
    const installedVersion = Effect.map(installedVersions, (versions) => Option.map(RpmDatabase.installedAgentOf(versions), (a) => a.version))

    /**
     * Returns once no other zypper holds libzypp's lock. Before every transaction, and interruptible even inside an
     * uninterruptible one: a stop (the package's own %preun, while zypper erases it) must not wait for a zypper that
     * waits for it.
     */
    const lockFree = (operation: string) =>
      Effect.interruptible(awaitNoTransaction(options.root, ZYPP_PID_FILES)).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation, detail: error.message }))
      )

    /**
     * A transaction: exit 107 still put the package in place (only a scriptlet failed, as dnf
     * reports with exit 0), and 106 only says a repository was skipped; rpm has the last word.
     */
    const transaction = (operation: string, argv: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        yield* lockFree(operation)
        const result = yield* commands.runAccepting(
          operation,
          [...ZYPPER, ...argv],
          TRANSACTION_TIMEOUT,
          (result) => result.exitCode === ZYPPER_EXIT_RPM_SCRIPT_FAILED || result.exitCode === ZYPPER_EXIT_REPOS_SKIPPED
        )
        if (result.exitCode === ZYPPER_EXIT_RPM_SCRIPT_FAILED) {
          yield* Effect.logWarning(`${operation}: a package scriptlet failed; the package is installed`)
        }
        return result
      })

    /** A checked key into the key file, then into the rpm database. */
    const importKey = (operation: string, url: string, key: string) =>
      Effect.zipRight(
        Effect.zipRight(makeDirectory(onHost(STATE_DIR), 0o755), writeFileAtomically(onHost(KEY_FILE), key, 0o644)).pipe(
          Effect.mapError(fileFailure(operation))
        ),
        commands.runChecked(`rpm --import ${url}`, ["rpm", "--import", KEY_FILE], QUERY_TIMEOUT)
      )

    /** Fetches, checks and imports the repository's signing keys, then writes its repo file. */
    const configureRepository = Effect.gen(function*() {
      const operation = "configure the zypper repository"
      const content = yield* repository.yumRepoFile
      const keys = agentRepositoryKeys(content)
      if (keys.length === 0) {
        return yield* new PackageManagerError({
          operation,
          detail: `the [${YUM_REPO_SECTION}] section names no gpgkey, which zypper needs imported to check the repository`
        })
      }
      for (const url of keys) {
        yield* importKey(operation, url, yield* repository.signingKey(url))
      }
      yield* agentRepository.configure(content)
    })

    const refreshRepository = commands.run("zypper refresh", [...ZYPPER, "refresh", "--repo", YUM_REPO_SECTION], FETCH_TIMEOUT)

    /**
     * After `refresh` failed on the agent repository's signature: the keys its repo file names,
     * fetched again (over https unless `-r` is plain http), written and imported, unless they
     * are the key imported before. Fails with zypper's line and why nothing was done.
     */
    const replaceRotatedKey = (failedLine: string) =>
      Effect.gen(function*() {
        const operation = "zypper refresh"
        const refused = (why: string) => new PackageManagerError({ operation, detail: `${failedLine} (${why})` })
        const file = yield* agentRepository.find
        if (Option.isNone(file)) return yield* refused(`no repo file in ${REPOS_DIR} defines [${YUM_REPO_SECTION}]`)
        const text = yield* readTextIfExists(onHost(file.value)).pipe(Effect.mapError(fileFailure(operation)))
        const urls = agentRepositoryKeys(Option.getOrElse(text, () => ""))
        if (urls.length === 0) return yield* refused(`${file.value} names no gpgkey`)
        const refusal = urls.map((url) => keyUrlRefusal(url, repository.base)).find((why) => why !== undefined)
        if (refusal !== undefined) return yield* refused(refusal)
        const keys = yield* Effect.forEach(urls, (url) => repository.signingKey(url)).pipe(
          Effect.mapError((error) => refused(`fetching the key again: ${error.message}`))
        )
        const old = fingerprintOrWhy(yield* readTextIfExists(onHost(KEY_FILE)).pipe(Effect.mapError(fileFailure(operation))))
        const fetched = keys.map((key) => fingerprintOrWhy(Option.some(key)))
        if (fetched.every((fingerprint) => fingerprint === old)) return yield* refused(`the repository still serves the key ${old}`)
        yield* Effect.forEach(urls, (url, i) => importKey(operation, url, keys[i]!), { discard: true })
        yield* Effect.logInfo(`replaced the signing key of [${YUM_REPO_SECTION}] (${file.value}) in ${KEY_FILE}: ${old} -> ${fetched.join(", ")}`)
      })

    /** The agent repository's metadata; a rotated signing key is fetched again and the refresh retried once. */
    const refresh = Effect.gen(function*() {
      const operation = "zypper refresh"
      const first = yield* refreshRepository
      if (first.exitCode === 0) return
      const keyError = zypperKeyErrorLine(first, YUM_REPO_SECTION)
      if (keyError === undefined) return yield* new PackageManagerError({ operation, detail: zypperFailureLine(first) })
      yield* replaceRotatedKey(keyError)
      const second = yield* refreshRepository
      if (second.exitCode === 0) return
      return yield* new PackageManagerError({
        operation,
        detail: `${zypperKeyErrorLine(second, YUM_REPO_SECTION) ?? zypperFailureLine(second)} (also with the key fetched again)`
      })
    })

    const candidateVersion = commands.runAccepting(
      "zypper search",
      [...ZYPPER, "--xmlout", "search", "--details", "--match-exact", "--repo", YUM_REPO_SECTION, "--type", "package", AGENT_PACKAGE],
      QUERY_TIMEOUT,
      (result) => result.exitCode === ZYPPER_EXIT_NOT_FOUND
    ).pipe(Effect.map((result) => (result.exitCode === 0 ? searchCandidate(result.stdout) : Option.none<string>())))

    // `install` of an installed package upgrades it to the newest offered.
    const download = commands.runChecked(
      "zypper install --download-only",
      [...ZYPPER, "install", "--download-only", AGENT_PACKAGE],
      FETCH_TIMEOUT
    ).pipe(Effect.asVoid)

    // A failed %post (107) fails the upgrade, the package in place: the contract rolls back after a failed maintainer script.
    const install = Effect.zipRight(
      lockFree("zypper install"),
      commands.runAccepting(
        "zypper install",
        [...ZYPPER, "install", AGENT_PACKAGE],
        TRANSACTION_TIMEOUT,
        (result) => result.exitCode === ZYPPER_EXIT_REPOS_SKIPPED
      )
    ).pipe(Effect.asVoid)

    /** Exactly `version`, downgrading if need be; without `--oldpackage` zypper would say "nothing to do". */
    const installVersion = (version: string) =>
      Effect.gen(function*() {
        const spec = `${AGENT_PACKAGE}-${version}`
        const operation = `zypper install --oldpackage ${spec}`
        if (!isRpmVersion(version)) {
          return yield* new PackageManagerError({ operation, detail: `"${version}" is not a package version (version-release)` })
        }
        const installed = yield* installedVersion
        if (Option.exists(installed, (current) => compareRpmVersions(current, version) === 0)) return
        yield* transaction(operation, ["install", "--oldpackage", spec])
      })

    /** The per-repository package caches, and one level below (a repository's `x86_64/`). */
    const cacheDirectories = Effect.gen(function*() {
      const repos = yield* subdirectories(options.root, PACKAGE_CACHE, "")
      const dirs: Array<string> = [...repos]
      for (const repo of repos) dirs.push(...(yield* subdirectories(options.root, repo, "")))
      return dirs
    })

    const inCache = (version: string) =>
      Effect.flatMap(cacheDirectories, (dirs) => findPackageFile(options.root, "rpm", dirs, version)).pipe(
        Effect.mapError(fileFailure("read the package cache"))
      )

    const keepFile = (file: string) => keep(options.root, file).pipe(Effect.mapError(fileFailure("keep the agent package")))

    /**
     * The installed version's package: kept, else already in zypper's cache (`keeppackages`), else
     * downloaded from the repository. Only the agent repository is asked: zypper would otherwise
     * settle for the installed package itself and download nothing ("Nothing to do", exit 0).
     */
    const securePackage = (version: string) =>
      Effect.gen(function*() {
        const kept = yield* findKept(options.root, "rpm", version).pipe(Effect.mapError(fileFailure("read the kept packages")))
        if (Option.isSome(kept)) return Option.some<SecuredPackage>({ source: "kept", file: kept.value })
        if (!isRpmVersion(version)) return Option.none<SecuredPackage>()
        const cached = yield* inCache(version)
        if (Option.isSome(cached)) return Option.some<SecuredPackage>({ source: "cache", file: yield* keepFile(cached.value) })
        const spec = `${AGENT_PACKAGE}-${version}`
        // A forced reinstall, download only: the installed version's package from the repository.
        const fetched = yield* commands.runChecked(
          `zypper install --download-only --force ${spec}`,
          [...ZYPPER, "install", "--download-only", "--force", "--oldpackage", "--repo", YUM_REPO_SECTION, spec],
          FETCH_TIMEOUT
        ).pipe(
          Effect.tapError((error) => Effect.logDebug(`the repository does not offer ${version}: ${error.message}`)),
          Effect.option
        )
        const downloaded = Option.isSome(fetched) ? yield* inCache(version) : Option.none<string>()
        if (Option.isNone(downloaded)) return Option.none<SecuredPackage>()
        return Option.some<SecuredPackage>({ source: "repository", file: yield* keepFile(downloaded.value) })
      })

    const keepPackages = (versions: ReadonlyArray<string>) =>
      keepFromCache(options.root, "rpm", versions, cacheDirectories).pipe(
        Effect.mapError(fileFailure("keep the agent packages"))
      )

    /** An upgrade interrupted half-way leaves both versions in the rpm database: the older one goes. */
    const repair = Effect.gen(function*() {
      yield* awaitNoTransaction(options.root, ZYPP_PID_FILES).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation: "repair", detail: error.message }))
      )
      const versions = yield* installedVersions
      if (versions.length < 2) return Option.none<string>()
      const older = [...versions].sort(compareRpmVersions).slice(0, -1)
      const argv = [...ZYPPER, "remove", ...older.map((version) => `${AGENT_PACKAGE}-${version}`)] as const
      const described = argv.join(" ")
      yield* commands.runChecked(described, argv, TRANSACTION_TIMEOUT)
      const left = yield* installedVersions
      if (left.length > 1) {
        return yield* new PackageManagerError({
          operation: described,
          detail: `${left.length} versions of ${AGENT_PACKAGE} are still installed (${left.join(", ")})`
        })
      }
      return Option.some(described)
    })

    /** Back to exactly `version` from its kept package (a signed file: zypper checks it against the imported key). */
    const restore = (secured: SecuredPackage, version: string) =>
      Effect.gen(function*() {
        const operation = `zypper install --oldpackage ${secured.file}`
        let installed = yield* installedVersions
        if (installed.length > 1) {
          yield* repair
          installed = yield* installedVersions
        }
        if (installed.length !== 1 || compareRpmVersions(installed[0]!, version) !== 0) {
          yield* transaction(operation, ["install", "--oldpackage", secured.file])
        }
        const after = yield* installedVersions
        if (after.length !== 1 || compareRpmVersions(after[0]!, version) !== 0) {
          return yield* new PackageManagerError({
            operation,
            detail: `installed ${AGENT_PACKAGE} is ${after.join(", ") || "none"}, not ${version}`
          })
        }
      })

    const isHeld = commands.runChecked("zypper locks", [...ZYPPER, "--xmlout", "locks"], QUERY_TIMEOUT).pipe(
      Effect.map((result) => locksHoldAgent(result.stdout))
    )

    const service: PackageManagerShape = {
      kind: "zypper",
      installedVersion,
      installedState: Effect.map(installedVersions, RpmDatabase.installedAgentOf),
      repositoryState: Effect.map(agentRepository.find, repositoryStateOf),
      configureRepository,
      refresh,
      candidateVersion,
      download,
      install,
      installVersion,
      securePackage,
      keepPackages,
      restore,
      isHeld,
      repair
    }
    return PackageManager.of(service)
  })

export const layer = (options: ZypperOptions): Layer.Layer<PackageManager, never, Shell | Repository | UpdaterConfig> =>
  Layer.effect(PackageManager, make(options))
