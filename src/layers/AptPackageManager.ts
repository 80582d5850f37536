/**
 * PackageManager for apt (Debian, Ubuntu). Files are read and written under
 * `root`; the commands name the real host paths.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { aptKeyProblem, aptSourceLine, isAgentEntry, parseSources } from "../domain/AptSources.js"
import { PackageManager, PackageManagerError, type PackageManagerService } from "../services/PackageManager.js"
import { lastLine, Shell } from "../services/Shell.js"
import { runChecked } from "./CheckedCommand.js"
import {
  type HostFileError,
  listDirectoryIfExists,
  makeDirectory,
  readTextIfExists,
  underRoot,
  writeFileAtomically
} from "./HostFiles.js"

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

const QUERY_TIMEOUT = Duration.minutes(2)
const FETCH_TIMEOUT = Duration.minutes(10)
const TRANSACTION_TIMEOUT = Duration.minutes(30)

/** dpkg states in which the package's files are (at least partly) on disk. */
const PRESENT_STATES = new Set([
  "installed",
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending"
])

/**
 * The agent's version from `dpkg-query -W -f='${db:Status-Status} ${Version}\n'`.
 * A package left half-way counts as installed, so that the next upgrade repairs it;
 * one removed with its configuration kept (`config-files`) does not.
 */
export const parseDpkgQuery = (stdout: string): Option.Option<string> => {
  const packages = stdout.split("\n").flatMap((line) => {
    const match = /^(\S+) (\S+)$/.exec(line.trim())
    return match === null ? [] : [{ state: match[1]!, version: match[2]! }]
  })
  const present = packages.find(({ state }) => state === "installed") ??
    packages.find(({ state }) => PRESENT_STATES.has(state))
  return Option.fromNullable(present?.version)
}

/** The `Candidate:` of `apt-cache policy`; none for `(none)` or a package apt does not know. */
export const parsePolicyCandidate = (stdout: string): Option.Option<string> => {
  const candidate = /^\s*Candidate:\s*(\S+)/m.exec(stdout)?.[1]
  return candidate === undefined || candidate === "(none)" ? Option.none() : Option.some(candidate)
}

export const make = (options: AptOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
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

    const service: PackageManagerService = {
      kind: "apt",

      installedVersion: shell.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}\\n", AGENT_PACKAGE],
        { env: { LC_ALL: "C" }, timeout: QUERY_TIMEOUT }
      ).pipe(
        Effect.mapError((error) => new PackageManagerError({ operation: "dpkg-query", detail: error.message })),
        Effect.flatMap((result) => {
          if (result.exitCode === 0) return Effect.succeed(parseDpkgQuery(result.stdout))
          // dpkg-query exits 1 for a package it has never heard of.
          if (result.exitCode === 1 && /no packages found matching/.test(result.stderr)) {
            return Effect.succeed(Option.none())
          }
          return Effect.fail(new PackageManagerError({ operation: "dpkg-query", detail: lastLine(result) }))
        })
      ),

      repositoryState: (base) =>
        findAgentEntry(base).pipe(
          Effect.map(Option.match({
            onNone: () => ({ _tag: "Missing" as const }),
            onSome: (file) => ({ _tag: "Configured" as const, file })
          }))
        ),

      configureRepository: (base, source) =>
        Effect.gen(function*() {
          const operation = "configure the apt repository"
          if (source._tag !== "AptKey") {
            return yield* new PackageManagerError({ operation, detail: "apt needs the repository key, not a yum repo file" })
          }
          const keyProblem = aptKeyProblem(source.key)
          if (keyProblem !== undefined) return yield* new PackageManagerError({ operation, detail: keyProblem })
          // A second entry for the same repository, with another signed-by, would break every apt command.
          const existing = yield* findAgentEntry(base)
          if (Option.isSome(existing) && existing.value !== AGENT_SOURCES_FILE) return
          yield* Effect.gen(function*() {
            yield* makeDirectory(onHost(KEYRING_DIR), 0o755)
            yield* makeDirectory(onHost(SOURCES_DIR), 0o755)
            yield* writeFileAtomically(onHost(KEYRING_FILE), source.key, 0o644)
            yield* writeFileAtomically(onHost(AGENT_SOURCES_FILE), aptSourceLine(base, KEYRING_FILE), 0o644)
          }).pipe(Effect.mapError(fileFailure(operation)))
        }),

      refresh: (base) => findAgentEntry(base).pipe(
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
        ["apt-get", "install", "-y", "-d", "--no-install-recommends", AGENT_PACKAGE],
        FETCH_TIMEOUT
      ).pipe(Effect.asVoid),

      install: apt("apt-get install", [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=300",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        AGENT_PACKAGE
      ], TRANSACTION_TIMEOUT).pipe(Effect.asVoid)
    }
    return PackageManager.of(service)
  })

export const layer = (options: AptOptions): Layer.Layer<PackageManager, never, Shell> =>
  Layer.effect(PackageManager, make(options))
