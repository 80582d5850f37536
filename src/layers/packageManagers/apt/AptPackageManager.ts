/**
 * PackageManager for apt (Debian, Ubuntu). Files are read and written under
 * `root`; the commands name the real host paths.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import { showholdListsAgent } from "../../../domain/AptMarkHolds.js"
import { parsePolicyCandidate } from "../../../domain/AptPolicy.js"
import {
  type AptEntry,
  aptKeyProblem,
  aptSourceLine,
  isAgentEntry,
  isSameSource,
  parseSources,
  withSignedBy
} from "../../../domain/AptSources.js"
import { aptCannotDownload, aptKeyErrorLine, dpkgQueryFoundNoPackage } from "../../../domain/AptToolMessages.js"
import { isDebVersion } from "../../../domain/DebVersion.js"
import { dpkgPackages, isUnfinished, parseDpkgQuery, unfinishedState } from "../../../domain/DpkgQuery.js"
import { fingerprintOrWhy } from "../../../domain/OpenPgpKey.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerShape,
  repositoryStateOf,
  type SecuredPackage
} from "../../../services/PackageManager.js"
import { Repository } from "../../../services/Repository.js"
import { type CommandResult, lastLine, Shell } from "../../../services/Shell.js"
import { UpdaterConfig } from "../../../services/UpdaterConfig.js"
import {
  fileMode,
  listDirectoryIfExists,
  makeDirectory,
  readTextIfExists,
  underRoot,
  writeFileAtomically
} from "../../internal/HostFiles.js"
import { findKept, findPackageFile, keep, keepFromCache } from "../../internal/KeptPackages.js"
import {
  C_LOCALE_ENV,
  FETCH_TIMEOUT,
  fileFailure,
  packageCommands,
  QUERY_TIMEOUT,
  TRANSACTION_TIMEOUT
} from "../../internal/PackageCommands.js"
import {
  aptDpkgHooks,
  type ArchivePlan,
  databaseAtRest,
  dpkgFailureLine,
  dropAptCache,
  identityOf,
  sameIdentity,
  singlePackagePlan
} from "./ArchiveInstall.js"
import { rebuild } from "./DebRepack.js"

export interface AptOptions {
  readonly root: string
}

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

/** The options of every transaction: wait for the dpkg lock, keep the administrator's changed conffiles. */
const TRANSACTION_OPTIONS = [
  "-o",
  "DPkg::Lock::Timeout=300",
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold"
] as const

export const make = (options: AptOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
    const repository = yield* Repository
    const { repository: base } = yield* UpdaterConfig
    const onHost = (hostPath: string) => underRoot(options.root, hostPath)

    const aptCommands = packageCommands(shell, APT_ENV)
    const apt = aptCommands.runChecked
    const dpkg = packageCommands(shell, C_LOCALE_ENV)

    const sourcesFiles = listDirectoryIfExists(onHost(SOURCES_DIR)).pipe(
      Effect.map((names) => [
        MAIN_SOURCES_FILE,
        ...names.filter((name) => SOURCES_PART.test(name)).map((name) => `${SOURCES_DIR}/${name}`)
      ])
    )

    /** Every entry `keep` accepts in the sources files, with its file, in apt's reading order. */
    const sourceEntries = (keep: (entry: AptEntry) => boolean) =>
      Effect.gen(function*() {
        const found: Array<{ readonly file: string; readonly entry: AptEntry }> = []
        for (const file of yield* sourcesFiles) {
          const text = yield* readTextIfExists(onHost(file))
          if (Option.isNone(text)) continue
          found.push(...parseSources(file, text.value).filter(keep).map((entry) => ({ file, entry })))
        }
        return found
      }).pipe(Effect.mapError(fileFailure("read the apt sources")))

    /** The first sources file with an entry for the agent repository, and that entry. */
    const findAgentEntry = (base: string) =>
      Effect.map(sourceEntries((entry) => isAgentEntry(entry, base)), (found) => Option.fromNullable(found[0]))

    /** The repository's key, fetched and checked against the current time. */
    const fetchAptKey = (operation: string) =>
      Effect.gen(function*() {
        const key = yield* repository.aptKey
        const keyProblem = aptKeyProblem(key, new Date(yield* Clock.currentTimeMillis))
        if (keyProblem !== undefined) return yield* new PackageManagerError({ operation, detail: keyProblem })
        return key
      })

    const updateSource = (file: string) =>
      aptCommands.run("apt-get update", [
        "apt-get",
        "update",
        "-o",
        `Dir::Etc::sourcelist=${file}`,
        "-o",
        "Dir::Etc::sourceparts=-",
        "-o",
        "APT::Get::List-Cleanup=0"
      ], FETCH_TIMEOUT)

    /**
     * A legacy entry (no signed-by: its key went in with `apt-key`, where apt 3 no longer looks) is
     * made to name the updater's keyring, in the file it is in; the file is refused when that would
     * leave another entry for the same source naming another keyring (a hard apt error).
     */
    const moveToKeyring = (
      agent: { readonly file: string; readonly entry: AptEntry },
      key: string,
      refused: (why: string) => PackageManagerError
    ) =>
      Effect.gen(function*() {
        const operation = "apt-get update"
        const cannot = (why: string) => refused(`the agent's entry in ${agent.file} cannot be moved to ${KEYRING_FILE}: ${why}`)
        const { suite, uri } = agent.entry
        const file = onHost(agent.file)
        const text = yield* readTextIfExists(file).pipe(Effect.mapError(fileFailure(operation)))
        const rewritten = withSignedBy(agent.file, Option.getOrElse(text, () => ""), uri, suite, KEYRING_FILE)
        if (Either.isLeft(rewritten)) return yield* cannot(rewritten.left)
        const elsewhere = yield* sourceEntries((entry) => isSameSource(entry, uri, suite) && entry.signedBy !== KEYRING_FILE)
        const other = elsewhere.find((found) => found.file !== agent.file)
        if (other !== undefined) return yield* cannot(`${other.file} holds another entry for it`)
        yield* Effect.gen(function*() {
          const mode = yield* fileMode(file)
          yield* makeDirectory(onHost(KEYRING_DIR), 0o755)
          // The keyring first: the entry never names a keyring that is not there.
          yield* writeFileAtomically(onHost(KEYRING_FILE), key, 0o644)
          yield* writeFileAtomically(file, rewritten.right, mode)
        }).pipe(Effect.mapError(fileFailure(operation)))
        yield* Effect.logInfo(
          `moved the agent's entry in ${agent.file} to the keyring ${KEYRING_FILE} (key ${fingerprintOrWhy(Option.some(key))})`
        )
      })

    /**
     * After `apt-get update` failed with a key error for the agent's source: the repository's key
     * again, over https only, into the updater's own keyring only (a keyring an administrator's
     * entry names is theirs to replace); a legacy entry is moved to that keyring. Fails with the
     * update's error and why nothing was done.
     */
    const replaceRotatedKey = (agent: { readonly file: string; readonly entry: AptEntry }, failedLine: string) =>
      Effect.gen(function*() {
        const operation = "apt-get update"
        const refused = (why: string) => new PackageManagerError({ operation, detail: `${failedLine} (${why})` })
        const signedBy = agent.entry.signedBy
        if (signedBy !== undefined && signedBy !== KEYRING_FILE) {
          return yield* refused(
            `the agent's entry in ${agent.file} uses ${signedBy}, not ${KEYRING_FILE}: its key is left to the administrator`
          )
        }
        if (!base.startsWith("https://")) return yield* refused(`the key is not fetched again over plain http from ${base}`)
        const key = yield* fetchAptKey(operation).pipe(
          Effect.mapError((error) => refused(`fetching the key again: ${error.message}`))
        )
        if (signedBy === undefined) return yield* moveToKeyring(agent, key, refused)
        const old = yield* readTextIfExists(onHost(KEYRING_FILE)).pipe(Effect.mapError(fileFailure(operation)))
        if (Option.isSome(old) && old.value === key) {
          return yield* refused(`the repository still serves the key ${fingerprintOrWhy(old)}`)
        }
        yield* writeFileAtomically(onHost(KEYRING_FILE), key, 0o644).pipe(Effect.mapError(fileFailure(operation)))
        yield* Effect.logInfo(`replaced the apt key of ${base} in ${KEYRING_FILE}: ${fingerprintOrWhy(old)} -> ${fingerprintOrWhy(Option.some(key))}`)
      })

    /** The agent's dpkg-query lines; empty when dpkg has never heard of it. */
    const dpkgQuery = dpkg.runAccepting(
      "dpkg-query",
      ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}\\n", AGENT_PACKAGE],
      QUERY_TIMEOUT,
      (result) => result.exitCode === 1 && dpkgQueryFoundNoPackage(result.stderr)
    ).pipe(Effect.map((result) => (result.exitCode === 0 ? result.stdout : "")))

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
        if (!isDebVersion(version)) {
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
      // Newer dpkg exits 1 when it finds something to report; 2 is its own failure.
      const audit = yield* dpkg.runAccepting("dpkg --audit", ["dpkg", "--audit"], QUERY_TIMEOUT, (result) => result.exitCode === 1)
      const agentUnfinished = Option.isSome(unfinishedState(yield* dpkgQuery))
      if (audit.stdout.trim() === "" && !agentUnfinished) return Option.none<string>()

      const done = ["dpkg --configure -a"]
      const configure = yield* aptCommands.run(
        "dpkg --configure -a",
        ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"],
        TRANSACTION_TIMEOUT
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
        const stuck = dpkgPackages(yield* dpkgQuery).find(isUnfinished)
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
        if (isDebVersion(version)) {
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
            Effect.filterOrFail(
              (result) => !aptCannotDownload(result.stdout + result.stderr),
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
        if (installed?.version !== version || after.some(isUnfinished)) {
          return yield* new PackageManagerError({
            operation,
            detail: `${AGENT_PACKAGE} is ${after.map((p) => `${p.state} ${p.version}`).join(", ") || "not installed"}, not ${version}`
          })
        }
      })

    /** The archive `download` left for `install` to hand to dpkg; dropped by a refresh and by the install. */
    const archivePlan = yield* Ref.make(Option.none<ArchivePlan>())

    /**
     * After the download: the downloaded archive, when apt's plan installs it alone and dpkg's
     * database is at rest. Anything that stands in the way only means no plan.
     */
    const planArchiveInstall = Effect.gen(function*() {
      const database = yield* databaseAtRest(options.root)
      if (Option.isNone(database)) return Option.none<ArchivePlan>()
      const simulated = yield* aptCommands.run(
        "apt-get install -s",
        ["apt-get", "install", "-s", "-y", "--no-install-recommends", AGENT_PACKAGE],
        QUERY_TIMEOUT
      )
      const version = simulated.exitCode === 0 ? singlePackagePlan(simulated.stdout) : Option.none()
      if (Option.isNone(version)) return Option.none<ArchivePlan>()
      const file = yield* inArchives(version.value)
      if (Option.isNone(file)) return Option.none<ArchivePlan>()
      // An administrator's hooks around dpkg runs are apt-get's to run.
      const config = yield* aptCommands.run("apt-config dump", ["apt-config", "dump"], QUERY_TIMEOUT)
      const hooks = config.exitCode === 0 ? aptDpkgHooks(config.stdout) : ["(apt-config dump failed)"]
      if (hooks.length > 0) {
        yield* Effect.logDebug(`apt runs hooks around dpkg (${hooks.join(" ")}): the install goes through apt-get`)
        return Option.none<ArchivePlan>()
      }
      const archive = yield* identityOf(options.root, file.value)
      // Both as they were before the simulation: nothing changed them meanwhile.
      const after = yield* databaseAtRest(options.root)
      if (Option.isNone(archive) || Option.isNone(after) || !sameIdentity(after.value, database.value)) {
        return Option.none<ArchivePlan>()
      }
      return Option.some<ArchivePlan>({ file: file.value, version: version.value, archive: archive.value, database: database.value })
    }).pipe(
      Effect.catchAll((error) => Effect.as(Effect.logDebug(`no plan to install the archive with dpkg: ${error.message}`), Option.none()))
    )

    /** Why the plan no longer holds; none when it does. */
    const planBroken = (plan: ArchivePlan) =>
      Effect.gen(function*() {
        const database = yield* databaseAtRest(options.root)
        if (Option.isNone(database) || !sameIdentity(database.value, plan.database)) {
          return Option.some("dpkg's database changed since apt's plan")
        }
        const archive = yield* identityOf(options.root, plan.file)
        if (Option.isNone(archive) || !sameIdentity(archive.value, plan.archive)) {
          return Option.some(`${plan.file} changed since it was downloaded`)
        }
        return Option.none<string>()
      })

    const aptInstall = apt("apt-get install", [
      "apt-get",
      "install",
      "-y",
      "--no-install-recommends",
      ...TRANSACTION_OPTIONS,
      AGENT_PACKAGE
    ], TRANSACTION_TIMEOUT).pipe(Effect.asVoid)

    /**
     * `dpkg -i` of the planned archive. dpkg takes its frontend lock itself, and refuses at once
     * when another program holds it (where apt-get would wait): a dpkg that fails without touching
     * its database (that lock, a conflict) leaves the transaction to apt-get.
     */
    const installArchive = (plan: ArchivePlan) =>
      Effect.gen(function*() {
        const operation = "dpkg -i"
        yield* Effect.logDebug(`apt's plan installs ${AGENT_PACKAGE} ${plan.version} alone: dpkg -i ${plan.file}`)
        const result = yield* aptCommands.run(
          operation,
          ["dpkg", "--force-confdef", "--force-confold", "-i", plan.file],
          TRANSACTION_TIMEOUT
        ).pipe(Effect.ensuring(dropAptCache(options.root)))
        if (result.exitCode === 0) return
        const detail = dpkgFailureLine(result)
        if (Option.isNone(yield* planBroken(plan))) {
          yield* Effect.logDebug(`dpkg -i changed nothing (${detail}); installing with apt-get`)
          return yield* aptInstall
        }
        return yield* new PackageManagerError({ operation, detail })
      })

    const service: PackageManagerShape = {
      kind: "apt",

      installedVersion: Effect.map(dpkgQuery, parseDpkgQuery),

      repositoryState: Effect.map(findAgentEntry(base), (agent) => repositoryStateOf(Option.map(agent, ({ file }) => file))),

      configureRepository: Effect.gen(function*() {
        const operation = "configure the apt repository"
        const key = yield* fetchAptKey(operation)
        // A second entry for the same repository, with another signed-by, would break every apt command.
        const existing = yield* findAgentEntry(base)
        if (Option.isSome(existing) && existing.value.file !== AGENT_SOURCES_FILE) return
        yield* Effect.gen(function*() {
          yield* makeDirectory(onHost(KEYRING_DIR), 0o755)
          yield* makeDirectory(onHost(SOURCES_DIR), 0o755)
          yield* writeFileAtomically(onHost(KEYRING_FILE), key, 0o644)
          yield* writeFileAtomically(onHost(AGENT_SOURCES_FILE), aptSourceLine(base, KEYRING_FILE), 0o644)
        }).pipe(Effect.mapError(fileFailure(operation)))
      }),

      refresh: Effect.gen(function*() {
        yield* Ref.set(archivePlan, Option.none())
        const agent = yield* findAgentEntry(base)
        // No entry of its own (cannot happen after configureRepository): update every source.
        if (Option.isNone(agent)) return yield* apt("apt-get update", ["apt-get", "update"], FETCH_TIMEOUT)
        const update = updateSource(agent.value.file)
        // A source that worked before only gets a warning (exit 0, the old lists kept): the key error counts all the same.
        const keyRejection = (result: CommandResult) => aptKeyErrorLine(`${result.stderr}\n${result.stdout}`, agent.value.entry.uri)
        // apt's warning names the rejected signature where no E: line does (a source that worked before).
        const failureLine = (result: CommandResult) => (result.exitCode === 0 ? keyRejection(result) : undefined) ?? lastLine(result)
        const first = yield* update
        if (first.exitCode === 0 && keyRejection(first) === undefined) return
        if (keyRejection(first) === undefined) {
          return yield* new PackageManagerError({ operation: "apt-get update", detail: lastLine(first) })
        }
        yield* replaceRotatedKey(agent.value, failureLine(first))
        const second = yield* update
        if (second.exitCode !== 0 || keyRejection(second) !== undefined) {
          return yield* new PackageManagerError({
            operation: "apt-get update",
            detail: `${failureLine(second)} (also with the key fetched again)`
          })
        }
      }).pipe(Effect.asVoid),

      candidateVersion: apt("apt-cache policy", ["apt-cache", "policy", AGENT_PACKAGE], QUERY_TIMEOUT).pipe(
        Effect.map((result) => parsePolicyCandidate(result.stdout))
      ),

      download: Effect.gen(function*() {
        yield* Ref.set(archivePlan, Option.none())
        yield* apt(
          "apt-get install -d",
          // It takes dpkg's frontend lock too: wait for another apt or dpkg as a transaction does.
          ["apt-get", "install", "-y", "-d", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", AGENT_PACKAGE],
          FETCH_TIMEOUT
        )
        yield* Ref.set(archivePlan, yield* planArchiveInstall)
      }),

      install: Effect.gen(function*() {
        const plan = yield* Ref.getAndSet(archivePlan, Option.none())
        if (Option.isNone(plan)) return yield* aptInstall
        const broken = yield* planBroken(plan.value)
        if (Option.isSome(broken)) {
          yield* Effect.logDebug(`installing with apt-get: ${broken.value}`)
          return yield* aptInstall
        }
        return yield* installArchive(plan.value)
      }),

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
