/**
 * PackageManager over the host model: apt or dnf/yum as the update pass sees
 * them, each operation taking the Clock time a real one would. Every kind leaves
 * an interrupted transaction the dpkg way (a half-way package), which the
 * model's `finish` repairs.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerKind,
  type RepositoryState,
  type SecuredPackage
} from "../../services/PackageManager.js"
import type { HostModel } from "./HostModel.js"
import { newest, presentVersion, unfinished } from "./HostState.js"

export interface SimulatedPackageManagerOptions {
  readonly kind: PackageManagerKind
  readonly downloadTime: Duration.DurationInput
  readonly transactionTime: Duration.DurationInput
  /** Whether an installed, finished deb can be rebuilt from its files; apt only. */
  readonly rebuildable: boolean
}

const TRANSACTION_ERROR = "E: Sub-process /usr/bin/dpkg returned an error code (1)"
const CONFIGURE_ERROR = "dpkg: error processing package driveclient (--configure)"

const failure = (operation: string, detail: string) => new PackageManagerError({ operation, detail })

export const make = (model: HostModel, options: SimulatedPackageManagerOptions) => {
  const { kind } = options

  const repositoryState = Effect.map(model.state, (s): RepositoryState =>
    s.repositoryConfigured
      ? { _tag: "Configured", file: kind === "apt" ? "/etc/apt/sources.list.d/driveclient.list" : "/etc/yum.repos.d/drivesrvr.repo" }
      : { _tag: "Missing" })

  const requireRefreshed = (operation: string) =>
    Effect.flatMap(model.state, (s) =>
      s.repositoryConfigured && s.refreshed
        ? Effect.succeed(s)
        : Effect.fail(failure(operation, "Unable to locate package driveclient")))

  const download = Effect.gen(function*() {
    const s = yield* requireRefreshed("download")
    const target = newest(s.offered)!
    if ((yield* model.fault("download")) !== undefined) {
      return yield* failure("apt-get install -d", `E: Failed to fetch driveclient ${target}`)
    }
    yield* Effect.sleep(options.downloadTime)
    yield* model.downloaded(target)
  })

  const install = Effect.gen(function*() {
    const s = yield* requireRefreshed("install")
    const target = newest(s.offered)!
    if (presentVersion(s) === target && !unfinished(s)) return
    yield* model.record(`transaction: install driveclient ${target}${s.downloaded === target ? " (from cache)" : ""}`)
    if (s.downloaded !== target) yield* Effect.sleep(options.downloadTime)
    yield* Effect.sleep(options.transactionTime)
    const outcome = yield* model.transaction(target, "deb")
    if (outcome._tag === "Installed") return
    // A failing install here is a one-off: the next transaction goes through.
    if (outcome.at === "install") yield* model.update((current) => ({ ...current, failures: { ...current.failures, install: undefined } }))
    return yield* failure("install", outcome.line ?? TRANSACTION_ERROR)
  })

  const installVersion = (version: string) =>
    Effect.gen(function*() {
      const operation = "install a version"
      const s = yield* requireRefreshed(operation)
      if (!s.offered.includes(version)) {
        return yield* failure(operation, `E: Version '${version}' for 'driveclient' was not found`)
      }
      yield* model.record(`transaction: install driveclient ${version}`)
      yield* Effect.sleep(options.transactionTime)
      yield* model.installExactly(version)
    })

  /** The installed version's package, in the contract's order: kept, repository, cache, rebuilt. */
  const securePackage = (version: string) =>
    Effect.gen(function*() {
      const none = (yield* model.fault("secure")) !== undefined
      const s = yield* model.state
      const secured = (source: SecuredPackage["source"]) =>
        Effect.as(
          model.secured(version, source),
          Option.some<SecuredPackage>({ source, file: `/var/lib/cloudbackup-updater/packages/driveclient_${version}.pkg` })
        )
      if (s.kept.includes(version)) return yield* secured("kept")
      if (none) return Option.none()
      if (s.offered.includes(version)) return yield* secured("repository")
      if (s.cached.includes(version)) return yield* secured("cache")
      if (kind === "apt" && options.rebuildable && presentVersion(s) === version && !unfinished(s)) {
        return yield* secured("rebuilt")
      }
      return Option.none()
    })

  const restore = (secured: SecuredPackage, version: string) =>
    Effect.gen(function*() {
      const operation = `install ${secured.file}`
      const s = yield* model.state
      if (!s.kept.includes(version)) return yield* failure(operation, `${secured.file}: no such file`)
      if (presentVersion(s) === version && !unfinished(s)) return
      yield* model.record(`transaction: restore driveclient ${version} from ${secured.source}`)
      if ((yield* model.fault("restore", model.interrupt(version))) !== undefined) {
        return yield* failure(operation, TRANSACTION_ERROR)
      }
      yield* Effect.sleep(options.transactionTime)
      yield* model.installExactly(version, "restored")
    })

  const repair = Effect.gen(function*() {
    const s = yield* model.state
    if (!unfinished(s)) return Option.none<string>()
    if ((yield* model.fault("repair")) !== undefined) return yield* failure("dpkg --configure -a", CONFIGURE_ERROR)
    const installed = s.installed?.version
    if (s.failures.repair !== undefined || (installed !== undefined && s.brokenReleases[installed] === "postinst")) {
      const detail = s.failures.repair ?? CONFIGURE_ERROR
      yield* model.record(`repair failed: ${detail}`)
      return yield* failure("repair", detail)
    }
    yield* model.finish
    return Option.some("dpkg --configure -a")
  })

  return PackageManager.of({
    kind,
    repositoryState,
    configureRepository: model.configureRepository(kind === "apt" ? "apt source and key" : "repo file"),
    installedVersion: Effect.map(model.state, (s) => Option.fromNullable(s.installed?.version)),
    installedState: Effect.map(model.state, (s) =>
      Option.map(Option.fromNullable(s.installed?.version), (version) => ({ version, unfinished: unfinished(s) }))),
    refresh: model.refresh,
    // Like `apt-cache policy`: no candidate before the repository's metadata has been fetched.
    candidateVersion: Effect.map(model.state, (s) =>
      s.repositoryConfigured && s.refreshed ? Option.fromNullable(newest(s.offered)) : Option.none()),
    download,
    install,
    installVersion,
    securePackage,
    keepPackages: model.keepOnly,
    restore,
    isHeld: Effect.map(model.state, (s) => s.held),
    repair
  })
}
