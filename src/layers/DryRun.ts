/**
 * `--dry-run`: the live services with every change turned into a log line of
 * what would be done. Reads (versions, sources, locks, the agent's state) go
 * through; nothing is written (not even the metrics), installed, stopped or started, and no lock is taken.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import * as MetricsSink from "../services/MetricsSink.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

const would = (what: string) => Effect.logInfo(`dry run: would ${what}`)

/**
 * The package metadata is not refreshed, so the repository's newest package may not be known: the
 * published version stands for it. After a transaction that would have run, the version it would
 * have installed is reported as installed, so that the pass tells what it would have done.
 */
const packageManager = Layer.effect(
  PackageManager,
  Effect.gen(function*() {
    const live = yield* PackageManager
    const remote = yield* Repository
    const { repository } = yield* UpdaterConfig
    const wouldInstall = yield* Ref.make(Option.none<string>())
    const candidateVersion = Effect.flatMap(live.candidateVersion, (offered) =>
      Option.isSome(offered)
        ? Effect.succeed(offered)
        : remote.latestVersion.pipe(Effect.option))
    const installedState = Effect.flatMap(live.installedState, (found) =>
      Effect.map(Ref.get(wouldInstall), Option.match({
        onNone: () => found,
        onSome: (version) => Option.some({ version, unfinished: false })
      })))
    return PackageManager.of({
      ...live,
      candidateVersion,
      installedState,
      installedVersion: Effect.map(installedState, Option.map(({ version }) => version)),
      configureRepository: would(`configure the agent repository ${repository}`),
      refresh: would(`refresh the package metadata of ${repository}`),
      download: would("download the new agent package"),
      install: Effect.flatMap(candidateVersion, (candidate) =>
        Effect.zipRight(
          would(`install driveclient ${Option.getOrElse(candidate, () => "(the newest)")}`),
          Ref.set(wouldInstall, candidate)
        )),
      installVersion: (version) => would(`install driveclient ${version}`),
      securePackage: (version) =>
        Effect.as(
          would(`keep a package of driveclient ${version} for a rollback`),
          Option.some({ source: "kept" as const, file: "(dry run)" })
        ),
      keepPackages: (versions) => would(`keep the packages of driveclient ${versions.join(" and ")}`),
      restore: (secured, version) => would(`install driveclient ${version} again from ${secured.file}`),
      repair: Effect.as(would("repair an interrupted package transaction, if any"), Option.none())
    })
  })
)

const agentService = Layer.effect(
  AgentService,
  Effect.map(AgentService, (live) =>
    AgentService.of({ ...live, stop: would("stop the agent"), start: would("start the agent") }))
)

const fileLock = Layer.effect(
  FileLock,
  Effect.map(FileLock, (live) =>
    FileLock.of({
      ...live,
      tryAcquire: (path) =>
        Effect.flatMap(live.holder(path), (holder) =>
          Option.match(holder, {
            onNone: () => would(`take ${path}`),
            onSome: (h) => would(`wait until pid ${h.pid ?? "?"} releases ${path}, then take it`)
          })),
      release: () => Effect.void,
      breakStale: (path) => Effect.as(would(`remove ${path} if it is stale`), false)
    }))
)

const stateStore = Layer.effect(
  StateStore,
  Effect.map(StateStore, (live) => StateStore.of({ ...live, update: () => Effect.void }))
)

const config = Layer.effect(
  UpdaterConfig,
  // The agent is never stopped, so one look after the start that does not happen is its health check.
  Effect.map(UpdaterConfig, (live) => UpdaterConfig.of({ ...live, healthGrace: Duration.zero }))
)

export const layer = Layer.mergeAll(
  config,
  packageManager,
  agentService,
  fileLock,
  stateStore,
  Layer.succeed(ShutdownInhibitor, { hold: () => Effect.void }),
  // Metrics tell what a pass did; a dry run did nothing.
  Layer.succeed(MetricsSink.MetricsSink, MetricsSink.none)
)

/** `live`, with its changing services replaced by their dry-run forms. */
export const over = <A, E, R>(live: Layer.Layer<A, E, R>) => Layer.merge(live, layer.pipe(Layer.provide(live)))
