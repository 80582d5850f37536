/**
 * PackageManager for dnf and yum (RHEL, CentOS, Rocky, AlmaLinux, Fedora, Amazon
 * Linux). Files are read and written under `root`; the commands name the real
 * host paths.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import { yumDownloadedOnly, yumListFoundNothing } from "../../../domain/RpmToolMessages.js"
import { compareRpmVersions, isRpmVersion, newestRpmVersion, parseNewestVersion } from "../../../domain/RpmVersions.js"
import { YUM_REPO_SECTION } from "../../../domain/YumRepoFile.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerShape,
  repositoryStateOf,
  type SecuredPackage
} from "../../../services/PackageManager.js"
import { Repository } from "../../../services/Repository.js"
import { Shell } from "../../../services/Shell.js"
import type { UpdaterConfig } from "../../../services/UpdaterConfig.js"
import { findExecutable, processSearchPath } from "../../internal/HostFiles.js"
import { findKept, findPackageFile, keep, keepFromCache, KEPT_PACKAGES_DIR, subdirectories } from "../../internal/KeptPackages.js"
import {
  C_LOCALE_ENV,
  FETCH_TIMEOUT,
  fileFailure,
  packageCommands,
  QUERY_TIMEOUT,
  TRANSACTION_TIMEOUT
} from "../../internal/PackageCommands.js"
import { repoFiles } from "./RepoFiles.js"
import * as RpmDatabase from "./RpmDatabase.js"
import { isAgentHeld } from "./RpmHolds.js"
import { awaitNoTransaction } from "./RpmTransactionLocks.js"

export type RpmFlavor = "dnf" | "yum"

export interface RpmOptions {
  readonly root: string
  readonly flavor: RpmFlavor
  /** Where yum's repair tools are looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
}

const REPOS_DIR = "/etc/yum.repos.d"

/** Where a package of the installed version is downloaded before it is copied among the kept ones. */
const DOWNLOAD_DIR = `${KEPT_PACKAGES_DIR}/.download`

/** Limits a command to the agent repository: dnf's `--repo`, which yum 3 lacks. */
const onlyAgentRepository = (flavor: RpmFlavor): ReadonlyArray<string> =>
  flavor === "dnf" ? [`--repo=${YUM_REPO_SECTION}`] : ["--disablerepo=*", `--enablerepo=${YUM_REPO_SECTION}`]

export const make = (options: RpmOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
    const repository = yield* Repository
    const { flavor } = options
    const searchPath = options.searchPath ?? processSearchPath()

    const commands = packageCommands(shell, C_LOCALE_ENV)
    const run = commands.runChecked

    const installedVersions = RpmDatabase.installedVersions(commands)

    const installedVersion = Effect.map(installedVersions, newestRpmVersion)

    const agentRepository = repoFiles(options.root, REPOS_DIR, flavor, repository.base)

    /** dnf's `install` leaves an installed package alone (dnf5), so an installed agent is upgraded. */
    const transactionVerb = installedVersion.pipe(
      Effect.map((installed) => (Option.isSome(installed) ? "upgrade" : "install"))
    )

    const candidateVersion = flavor === "dnf"
      ? run("dnf repoquery", [
        "dnf",
        "-q",
        "repoquery",
        "--available",
        "--latest-limit=1",
        "--queryformat=%{version}-%{release}\\n",
        ...onlyAgentRepository(flavor),
        AGENT_PACKAGE
      ], QUERY_TIMEOUT).pipe(Effect.map((result) => parseNewestVersion(result.stdout)))
      : commands.runAccepting(
        "yum list",
        ["yum", "-q", "list", "available", "--showduplicates", ...onlyAgentRepository(flavor), AGENT_PACKAGE],
        QUERY_TIMEOUT,
        (result) => yumListFoundNothing(result.stdout + result.stderr)
      ).pipe(
        Effect.map((result) => (result.exitCode === 0 ? parseNewestVersion(result.stdout) : Option.none<string>()))
      )

    const refresh = flavor === "dnf"
      ? run("dnf makecache", ["dnf", "-y", "makecache", "--refresh", ...onlyAgentRepository(flavor)], FETCH_TIMEOUT)
      : Effect.zipRight(
        run("yum clean expire-cache", ["yum", "-y", "clean", "expire-cache", ...onlyAgentRepository(flavor)], QUERY_TIMEOUT),
        run("yum makecache", ["yum", "-y", "makecache", ...onlyAgentRepository(flavor)], FETCH_TIMEOUT)
      )

    /**
     * A package transaction, once no other package manager holds the rpm database. The wait stays interruptible even
     * inside a transaction the program made uninterruptible: before the transaction starts, a stop (the package's
     * own %preun, while dnf erases it) ends the pass at once instead of waiting for a dnf that waits for it.
     */
    const transaction = (operation: string, argv: readonly [string, ...Array<string>]) =>
      Effect.zipRight(
        Effect.interruptible(awaitNoTransaction(options.root)).pipe(
          Effect.mapError((error) => new PackageManagerError({ operation, detail: error.message }))
        ),
        run(operation, argv, TRANSACTION_TIMEOUT)
      )

    /** A `--downloadonly` run: yum 3 ends one with exit status 1 and a message, having downloaded. */
    const downloadOnly = (operation: string, argv: readonly [string, ...Array<string>]) =>
      commands.runAccepting(
        operation,
        argv,
        FETCH_TIMEOUT,
        (result) => flavor === "yum" && yumDownloadedOnly(result.stdout + result.stderr)
      ).pipe(Effect.asVoid)

    const download = Effect.flatMap(transactionVerb, (verb) =>
      downloadOnly(`${flavor} ${verb} --downloadonly`, [flavor, "-y", verb, "--downloadonly", AGENT_PACKAGE]))

    // No --refresh: the package downloaded before the agent was stopped is used from the cache.
    const install = Effect.gen(function*() {
      const verb = yield* transactionVerb
      yield* transaction(`${flavor} ${verb}`, [flavor, "-y", verb, AGENT_PACKAGE])
    })

    /**
     * Exactly `version`: a downgrade from a newer one (the rollback), else an install,
     * which also takes an older agent up to that version. The version already installed
     * needs nothing.
     */
    const installVersion = (version: string) =>
      Effect.gen(function*() {
        const spec = `${AGENT_PACKAGE}-${version}`
        if (!isRpmVersion(version)) {
          return yield* new PackageManagerError({
            operation: `${flavor} install ${spec}`,
            detail: `"${version}" is not a package version (version-release)`
          })
        }
        const installed = yield* installedVersion
        const order = Option.match(installed, { onNone: () => -1, onSome: (current) => compareRpmVersions(current, version) })
        if (order === 0) return
        const verb = order > 0 ? "downgrade" : "install"
        yield* transaction(`${flavor} ${verb} ${spec}`, [flavor, "-y", verb, spec])
      })

    /** Which yum tool removes the older of two installed versions, by what is on PATH. */
    const yumDuplicateRemover = (versions: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const onPath = (name: string) => Effect.map(findExecutable(options.root, name, searchPath), Option.isSome)
        if (yield* onPath("package-cleanup")) return ["package-cleanup", "-y", "--cleandupes"] as const
        if (yield* onPath("yum-complete-transaction")) return ["yum-complete-transaction", "-y"] as const
        return yield* new PackageManagerError({
          operation: "repair",
          detail: `${versions.length} versions of ${AGENT_PACKAGE} are installed (${versions.join(", ")}), ` +
            `and neither package-cleanup (yum-utils) nor yum-complete-transaction is on PATH (${searchPath})`
        })
      })

    /** An upgrade interrupted half-way leaves both versions in the rpm database: the older one goes. */
    const repair = Effect.gen(function*() {
      yield* awaitNoTransaction(options.root).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation: "repair", detail: error.message }))
      )
      const versions = yield* installedVersions
      if (versions.length < 2) return Option.none<string>()
      const argv = flavor === "dnf"
        ? ["dnf", "-y", "remove", "--duplicates", AGENT_PACKAGE] as const
        : yield* yumDuplicateRemover(versions)
      const described = argv.join(" ")
      yield* run(described, argv, TRANSACTION_TIMEOUT)
      const left = yield* installedVersions
      if (left.length > 1) {
        return yield* new PackageManagerError({
          operation: described,
          detail: `${left.length} versions of ${AGENT_PACKAGE} are still installed (${left.join(", ")})`
        })
      }
      return Option.some(described)
    })

    /**
     * The per-repository package caches: dnf 4's `/var/cache/dnf/<repo>-<hash>/packages`, dnf 5's
     * under `/var/cache/libdnf5`, yum's `/var/cache/yum/<arch>/<release>/<repo>/packages`.
     */
    const cacheDirectories = Effect.gen(function*() {
      const dirs: Array<string> = []
      for (const parent of ["/var/cache/dnf", "/var/cache/libdnf5"]) {
        dirs.push(...(yield* subdirectories(options.root, parent, "packages")))
      }
      for (const arch of yield* subdirectories(options.root, "/var/cache/yum", "")) {
        for (const release of yield* subdirectories(options.root, arch, "")) {
          dirs.push(...(yield* subdirectories(options.root, release, "packages")))
        }
      }
      return dirs
    })

    const inCache = (version: string) =>
      Effect.flatMap(cacheDirectories, (dirs) => findPackageFile(options.root, "rpm", dirs, version)).pipe(
        Effect.mapError(fileFailure("read the package cache"))
      )

    const kept = (version: string) =>
      findKept(options.root, "rpm", version).pipe(Effect.mapError(fileFailure("read the kept packages")))

    const keepFile = (file: string) => keep(options.root, file).pipe(Effect.mapError(fileFailure("keep the agent package")))

    /** The installed version's package, in the contract's order: kept, repository, cache. */
    const securePackage = (version: string) =>
      Effect.gen(function*() {
        const found = yield* kept(version)
        if (Option.isSome(found)) return Option.some<SecuredPackage>({ source: "kept", file: found.value })
        if (!isRpmVersion(version)) return Option.none<SecuredPackage>()
        const spec = `${AGENT_PACKAGE}-${version}`
        // dnf deletes what it downloaded after its next transaction (unless keepcache): a copy is kept.
        const fetched = yield* downloadOnly(`${flavor} reinstall --downloadonly ${spec}`, [
          flavor,
          "-y",
          "reinstall",
          "--downloadonly",
          `--downloaddir=${DOWNLOAD_DIR}`,
          spec
        ]).pipe(
          Effect.tapError((error) => Effect.logDebug(`the repository does not offer ${version}: ${error.message}`)),
          Effect.option
        )
        const downloaded = yield* findPackageFile(options.root, "rpm", [DOWNLOAD_DIR], version).pipe(
          Effect.mapError(fileFailure("read the downloaded package"))
        )
        if (Option.isSome(fetched) && Option.isSome(downloaded)) {
          return Option.some<SecuredPackage>({ source: "repository", file: yield* keepFile(downloaded.value) })
        }
        const cached = yield* inCache(version)
        if (Option.isSome(cached)) return Option.some<SecuredPackage>({ source: "cache", file: yield* keepFile(cached.value) })
        return Option.none<SecuredPackage>()
      })

    const keepPackages = (versions: ReadonlyArray<string>) =>
      keepFromCache(options.root, "rpm", versions, cacheDirectories).pipe(
        Effect.mapError(fileFailure("keep the agent packages"))
      )

    /**
     * Back to exactly `version` from its kept package: the duplicate an interrupted upgrade
     * left is removed first, then the package is downgraded (or installed) from the file.
     */
    const restore = (package_: SecuredPackage, version: string) =>
      Effect.gen(function*() {
        const operation = `${flavor} downgrade ${package_.file}`
        let installed = yield* installedVersions
        if (installed.length > 1) {
          yield* repair
          installed = yield* installedVersions
        }
        const order = installed.length === 1 ? compareRpmVersions(installed[0]!, version) : -1
        if (order > 0) yield* transaction(operation, [flavor, "-y", "downgrade", package_.file])
        if (order < 0) yield* transaction(`${flavor} install ${package_.file}`, [flavor, "-y", "install", package_.file])
        const after = yield* installedVersions
        if (after.length !== 1 || compareRpmVersions(after[0]!, version) !== 0) {
          return yield* new PackageManagerError({
            operation,
            detail: `installed ${AGENT_PACKAGE} is ${after.join(", ") || "none"}, not ${version}`
          })
        }
      })

    const service: PackageManagerShape = {
      kind: flavor,
      installedVersion,

      repositoryState: Effect.map(agentRepository.find, repositoryStateOf),
      configureRepository: Effect.flatMap(repository.yumRepoFile, agentRepository.configure),

      refresh: Effect.asVoid(refresh),
      candidateVersion,
      download,
      install,
      installVersion,
      securePackage,
      keepPackages,
      restore,
      installedState: Effect.map(installedVersions, RpmDatabase.installedAgentOf),
      isHeld: isAgentHeld(options.root, flavor).pipe(
        Effect.mapError(fileFailure(`read the ${flavor} locks`))
      ),
      repair
    }
    return PackageManager.of(service)
  })

export const layer = (options: RpmOptions): Layer.Layer<PackageManager, never, Shell | Repository | UpdaterConfig> =>
  Layer.effect(PackageManager, make(options))
