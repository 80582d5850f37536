/**
 * PackageManager for apt (Debian, Ubuntu). Files are read and written under
 * `root`; the commands name the real host paths.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { aptKeyProblem, aptSourceLine, isAgentEntry, parseSources } from "../../../domain/AptSources.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerService,
  type SecuredPackage
} from "../../../services/PackageManager.js"
import { Repository } from "../../../services/Repository.js"
import { lastLine, Shell } from "../../../services/Shell.js"
import { UpdaterConfig } from "../../../services/UpdaterConfig.js"
import { runChecked } from "../../internal/CheckedCommand.js"
import { rebuild } from "./DebRepack.js"
import {
  type HostFileError,
  listDirectoryIfExists,
  makeDirectory,
  readTextIfExists,
  underRoot,
  writeFileAtomically
} from "../../internal/HostFiles.js"
import { findKept, findPackageFile, keep, keepFromCache } from "../../internal/KeptPackages.js"

export interface AptOptions {
  readonly root: string
}

const AGENT_PACKAGE = "driveclient"
const MAIN_SOURCES_FILE = "/etc/apt/sources.list"
const SOURCES_DIR = "/etc/apt/sources.list.d"
export const KEYRING_DIR = "/etc/apt/keyrings"
export const KEYRING_FILE = `${KEYRING_DIR}/driveclient.asc`
export const AGENT_SOURCES_FILE = `${SOURCES_DIR}/driveclient.list`

/** The names apt reads in sources.list.d; it skips any other file there. */
const SOURCES_PART = /^[A-Za-z0-9_.-]+\.(list|sources)$/

export const APT_ENV: Readonly<Record<string, string>> = {
  DEBIAN_FRONTEND: "noninteractive",
  LC_ALL: "C",
  APT_LISTCHANGES_FRONTEND: "none",
  // Ubuntu's needrestart hook would otherwise prompt, or restart unrelated services.
  NEEDRESTART_SUSPEND: "1"
}

/** Where apt-get keeps the packages it downloads. */
export const APT_ARCHIVES = "/var/cache/apt/archives"

const QUERY_TIMEOUT = Duration.minutes(2)
const FETCH_TIMEOUT = Duration.minutes(10)
const TRANSACTION_TIMEOUT = Duration.minutes(30)

/** dpkg states of a package whose installation or configuration was left half-way. */
const UNFINISHED_STATES = new Set([
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending"
])

/** dpkg states in which the package's files are (at least partly) on disk. */
const PRESENT_STATES = new Set(["installed", ...UNFINISHED_STATES])

interface DpkgPackage {
  readonly state: string
  readonly version: string
}

/** The `state version` lines of the dpkg-query below, one per architecture. */
const dpkgPackages = (stdout: string): ReadonlyArray<DpkgPackage> =>
  stdout.split("\n").flatMap((line) => {
    const match = /^(\S+) (\S+)$/.exec(line.trim())
    return match === null ? [] : [{ state: match[1]!, version: match[2]! }]
  })

/**
 * The agent's version from `dpkg-query -W -f='${db:Status-Status} ${Version}\n'`.
 * A package left half-way counts as installed, so that the next upgrade repairs it;
 * one removed with its configuration kept (`config-files`) does not.
 */
export const parseDpkgQuery = (stdout: string): Option.Option<string> => {
  const packages = dpkgPackages(stdout)
  const present = packages.find(({ state }) => state === "installed") ??
    packages.find(({ state }) => PRESENT_STATES.has(state))
  return Option.fromNullable(present?.version)
}

/** The agent's dpkg state when an interrupted transaction left it half-way (`half-configured`...). */
export const unfinishedState = (stdout: string): Option.Option<string> =>
  Option.fromNullable(dpkgPackages(stdout).find(({ state }) => UNFINISHED_STATES.has(state))?.state)

/** Whether `apt-mark showhold` lists the agent (`driveclient`, or `driveclient:amd64` on multiarch hosts). */
export const showholdListsAgent = (stdout: string): boolean =>
  stdout.split("\n").some((line) => line.trim() === AGENT_PACKAGE || line.trim().startsWith(`${AGENT_PACKAGE}:`))

/** A Debian package version: optional epoch, upstream part starting with a digit, optional revision. */
const DEB_VERSION = /^(?:\d+:)?\d[A-Za-z0-9.+~:-]*$/

/** The options of every transaction: wait for the dpkg lock, keep the administrator's changed conffiles. */
const TRANSACTION_OPTIONS = [
  "-o",
  "DPkg::Lock::Timeout=300",
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold"
] as const

/** The `Candidate:` of `apt-cache policy`; none for `(none)` or a package apt does not know. */
export const parsePolicyCandidate = (stdout: string): Option.Option<string> => {
  const candidate = /^\s*Candidate:\s*(\S+)/m.exec(stdout)?.[1]
  return candidate === undefined || candidate === "(none)" ? Option.none() : Option.some(candidate)
}

export const make = (options: AptOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
    const repository = yield* Repository
    const { repository: base } = yield* UpdaterConfig
    const onHost = (hostPath: string) => underRoot(options.root, hostPath)

    const apt = (operation: string, argv: readonly [string, ...Array<string>], timeout: Duration.Duration) =>
      runChecked(
        shell,
        argv,
        { env: APT_ENV, timeout },
        (detail) => new PackageManagerError({ operation, detail })
      )

    const fileFailure = (operation: string) => (error: HostFileError) =>
      new PackageManagerError({ operation, detail: error.message })

    const sourcesFiles = listDirectoryIfExists(onHost(SOURCES_DIR)).pipe(
      Effect.map((names) => [
        MAIN_SOURCES_FILE,
        ...names.filter((name) => SOURCES_PART.test(name)).map((name) => `${SOURCES_DIR}/${name}`)
      ])
    )

    const findAgentEntry = (base: string) =>
      Effect.gen(function*() {
        for (const file of yield* sourcesFiles) {
          const text = yield* readTextIfExists(onHost(file))
          if (Option.isSome(text) && parseSources(file, text.value).some((entry) => isAgentEntry(entry, base))) {
            return Option.some(file)
          }
        }
        return Option.none<string>()
      }).pipe(Effect.mapError(fileFailure("read the apt sources")))

    /** The agent's dpkg-query lines; empty when dpkg has never heard of it. */
    const dpkgQuery = shell.run(
      ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}\\n", AGENT_PACKAGE],
      { env: { LC_ALL: "C" }, timeout: QUERY_TIMEOUT }
    ).pipe(
      Effect.mapError((error) => new PackageManagerError({ operation: "dpkg-query", detail: error.message })),
      Effect.flatMap((result) => {
        if (result.exitCode === 0) return Effect.succeed(result.stdout)
        // dpkg-query exits 1 for a package it has never heard of.
        if (result.exitCode === 1 && /no packages found matching/.test(result.stderr)) return Effect.succeed("")
        return Effect.fail(new PackageManagerError({ operation: "dpkg-query", detail: lastLine(result) }))
      })
    )

    /** `apt-get install` of one version or one package file, downgrading if need be. */
    const installExactly = (operation: string, what: string) =>
      apt(operation, [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "--allow-downgrades",
        ...TRANSACTION_OPTIONS,
        what
      ], TRANSACTION_TIMEOUT)

    const installVersion = (version: string) =>
      Effect.gen(function*() {
        const operation = `apt-get install ${AGENT_PACKAGE}=${version}`
        if (!DEB_VERSION.test(version)) {
          return yield* new PackageManagerError({ operation, detail: `"${version}" is not a package version` })
        }
        yield* installExactly(operation, `${AGENT_PACKAGE}=${version}`)
      })

    /**
     * `dpkg --audit` names every package an interrupted run left half-way; the agent's own
     * state is checked too. `dpkg --configure -a` finishes them; what it cannot finish (a
     * half-installed agent, broken dependencies) is left to `apt-get install -f`.
     */
    const repair = Effect.gen(function*() {
      const audit = yield* shell.run(["dpkg", "--audit"], { env: { LC_ALL: "C" }, timeout: QUERY_TIMEOUT }).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation: "dpkg --audit", detail: error.message }))
      )
      // Newer dpkg exits 1 when it finds something to report; 2 is its own failure.
      if (audit.exitCode > 1) return yield* new PackageManagerError({ operation: "dpkg --audit", detail: lastLine(audit) })
      const agentUnfinished = Option.isSome(unfinishedState(yield* dpkgQuery))
      if (audit.stdout.trim() === "" && !agentUnfinished) return Option.none<string>()

      const done = ["dpkg --configure -a"]
      const configure = yield* shell.run(
        ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"],
        { env: APT_ENV, timeout: TRANSACTION_TIMEOUT }
      ).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation: "dpkg --configure -a", detail: error.message }))
      )
      if (configure.exitCode !== 0 || Option.isSome(unfinishedState(yield* dpkgQuery))) {
        done.push("apt-get install -f")
        yield* apt("apt-get install -f", [
          "apt-get",
          "install",
          "-y",
          "-f",
          "--no-install-recommends",
          ...TRANSACTION_OPTIONS
        ], TRANSACTION_TIMEOUT)
        // A package killed in its preinst stays half-installed: only reinstalling its version mends it.
        const stuck = dpkgPackages(yield* dpkgQuery).find(({ state }) => UNFINISHED_STATES.has(state))
        if (stuck !== undefined) {
          done.push(`apt-get install --reinstall ${AGENT_PACKAGE}=${stuck.version}`)
          yield* apt("apt-get install --reinstall", [
            "apt-get",
            "install",
            "-y",
            "--reinstall",
            "--allow-downgrades",
            "--no-install-recommends",
            ...TRANSACTION_OPTIONS,
            `${AGENT_PACKAGE}=${stuck.version}`
          ], TRANSACTION_TIMEOUT)
          const left = unfinishedState(yield* dpkgQuery)
          if (Option.isSome(left)) {
            return yield* new PackageManagerError({
              operation: "repair",
              detail: `${AGENT_PACKAGE} is still ${left.value} after ${done.join(" and ")}`
            })
          }
        }
      }
      return Option.some(done.join(", then "))
    })

    const installedState = Effect.map(dpkgQuery, (stdout) =>
      Option.map(parseDpkgQuery(stdout), (version) => ({ version, unfinished: Option.isSome(unfinishedState(stdout)) })))

    const inArchives = (version: string) =>
      findPackageFile(options.root, "deb", [APT_ARCHIVES], version).pipe(
        Effect.mapError(fileFailure("read the apt cache"))
      )

    const keepFile = (file: string) => keep(options.root, file).pipe(Effect.mapError(fileFailure("keep the agent package")))

    const secured = (source: SecuredPackage["source"]) => (file: string): SecuredPackage => ({ source, file })

    /** The installed version's package, in the contract's order: kept, repository, cache, rebuilt. */
    const securePackage = (version: string) =>
      Effect.gen(function*() {
        const kept = yield* findKept(options.root, "deb", version).pipe(Effect.mapError(fileFailure("read the kept packages")))
        if (Option.isSome(kept)) return Option.some(secured("kept")(kept.value))
        if (DEB_VERSION.test(version)) {
          const fetched = yield* apt("apt-get install -d --reinstall", [
            "apt-get",
            "install",
            "-y",
            "-d",
            "--reinstall",
            "--allow-downgrades",
            "--no-install-recommends",
            "-o",
            "DPkg::Lock::Timeout=300",
            `${AGENT_PACKAGE}=${version}`
          ], FETCH_TIMEOUT).pipe(
            // apt says so, and exits 0, when no source offers the installed version any more.
            Effect.filterOrFail(
              (result) => !/cannot be downloaded/.test(result.stdout + result.stderr),
              (result) => new PackageManagerError({ operation: "apt-get install -d --reinstall", detail: lastLine(result) })
            ),
            Effect.tapError((error) => Effect.logDebug(`the repository does not offer ${version}: ${error.message}`)),
            Effect.option
          )
          const cached = yield* inArchives(version)
          if (Option.isSome(cached)) {
            return Option.some(secured(Option.isSome(fetched) ? "repository" : "cache")(yield* keepFile(cached.value)))
          }
        }
        const rebuilt = yield* rebuild(options.root, shell, version)
        return Option.map(rebuilt, secured("rebuilt"))
      })

    const keepPackages = (versions: ReadonlyArray<string>) =>
      keepFromCache(options.root, "deb", versions, Effect.succeed([APT_ARCHIVES])).pipe(
        Effect.mapError(fileFailure("keep the agent packages"))
      )

    /** Installs the kept package over whatever the failed upgrade left, then checks dpkg's word on it. */
    const restore = (package_: SecuredPackage, version: string) =>
      Effect.gen(function*() {
        const operation = `apt-get install ${package_.file}`
        const before = dpkgPackages(yield* dpkgQuery)
        const done = before.length > 0 && before.every((p) => p.state === "installed" && p.version === version)
        if (!done) yield* installExactly(operation, package_.file)
        const after = dpkgPackages(yield* dpkgQuery)
        const installed = after.find((p) => p.state === "installed")
        if (installed?.version !== version || after.some((p) => UNFINISHED_STATES.has(p.state))) {
          return yield* new PackageManagerError({
            operation,
            detail: `${AGENT_PACKAGE} is ${after.map((p) => `${p.state} ${p.version}`).join(", ") || "not installed"}, not ${version}`
          })
        }
      })

    const service: PackageManagerService = {
      kind: "apt",

      installedVersion: Effect.map(dpkgQuery, parseDpkgQuery),

      repositoryState: findAgentEntry(base).pipe(
        Effect.map(Option.match({
          onNone: () => ({ _tag: "Missing" as const }),
          onSome: (file) => ({ _tag: "Configured" as const, file })
        }))
      ),

      configureRepository: Effect.gen(function*() {
        const operation = "configure the apt repository"
        const key = yield* repository.aptKey
        const keyProblem = aptKeyProblem(key)
        if (keyProblem !== undefined) return yield* new PackageManagerError({ operation, detail: keyProblem })
        // A second entry for the same repository, with another signed-by, would break every apt command.
        const existing = yield* findAgentEntry(base)
        if (Option.isSome(existing) && existing.value !== AGENT_SOURCES_FILE) return
        yield* Effect.gen(function*() {
          yield* makeDirectory(onHost(KEYRING_DIR), 0o755)
          yield* makeDirectory(onHost(SOURCES_DIR), 0o755)
          yield* writeFileAtomically(onHost(KEYRING_FILE), key, 0o644)
          yield* writeFileAtomically(onHost(AGENT_SOURCES_FILE), aptSourceLine(base, KEYRING_FILE), 0o644)
        }).pipe(Effect.mapError(fileFailure(operation)))
      }),

      refresh: findAgentEntry(base).pipe(
        Effect.flatMap(Option.match({
          // No entry of its own (cannot happen after configureRepository): update every source.
          onNone: () => apt("apt-get update", ["apt-get", "update"], FETCH_TIMEOUT),
          onSome: (file) =>
            apt("apt-get update", [
              "apt-get",
              "update",
              "-o",
              `Dir::Etc::sourcelist=${file}`,
              "-o",
              "Dir::Etc::sourceparts=-",
              "-o",
              "APT::Get::List-Cleanup=0"
            ], FETCH_TIMEOUT)
        })),
        Effect.asVoid
      ),

      candidateVersion: apt("apt-cache policy", ["apt-cache", "policy", AGENT_PACKAGE], QUERY_TIMEOUT).pipe(
        Effect.map((result) => parsePolicyCandidate(result.stdout))
      ),

      download: apt(
        "apt-get install -d",
        // It takes dpkg's frontend lock too: wait for another apt or dpkg as a transaction does.
        ["apt-get", "install", "-y", "-d", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", AGENT_PACKAGE],
        FETCH_TIMEOUT
      ).pipe(Effect.asVoid),

      install: apt("apt-get install", [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        ...TRANSACTION_OPTIONS,
        AGENT_PACKAGE
      ], TRANSACTION_TIMEOUT).pipe(Effect.asVoid),

      installVersion,
      securePackage,
      keepPackages,
      restore,
      installedState,

      isHeld: apt("apt-mark showhold", ["apt-mark", "showhold", AGENT_PACKAGE], QUERY_TIMEOUT).pipe(
        Effect.map((result) => showholdListsAgent(result.stdout))
      ),

      repair
    }
    return PackageManager.of(service)
  })

export const layer = (options: AptOptions): Layer.Layer<PackageManager, never, Shell | Repository | UpdaterConfig> =>
  Layer.effect(PackageManager, make(options))
