/**
 * `--dry-run`: the live services with every change turned into a log line of
 * what would be done. Reads (versions, sources, locks, the agent's state) go
 * through; nothing is written, installed, stopped or started, and no lock is taken.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

const would = (what: string) => Effect.logInfo(`dry run: would ${what}`)

const packageManager = Layer.effect(
  PackageManager,
  Effect.map(Effect.all([PackageManager, UpdaterConfig]), ([live, { repository }]) =>
    PackageManager.of({
      ...live,
      configureRepository: would(`configure the agent repository ${repository}`),
      refresh: would(`refresh the package metadata of ${repository}`),
      download: would("download the new agent package"),
      install: would("install the newest agent package"),
      installVersion: (version) => would(`install driveclient ${version}`),
      securePackage: (version) =>
        Effect.as(
          would(`keep a package of driveclient ${version} for a rollback`),
          Option.some({ source: "kept" as const, file: "(dry run)" })
        ),
      keepPackages: (versions) => would(`keep the packages of driveclient ${versions.join(" and ")}`),
      restore: (secured, version) => would(`install driveclient ${version} again from ${secured.file}`),
      repair: Effect.as(would("repair an interrupted package transaction, if any"), Option.none())
    }))
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
  Effect.map(UpdaterConfig, (live) => UpdaterConfig.of({ ...live, dryRun: true }))
)

export const layer = Layer.mergeAll(
  config,
  packageManager,
  agentService,
  fileLock,
  stateStore,
  Layer.succeed(ShutdownInhibitor, { hold: () => Effect.void })
)

/** `live`, with its changing services replaced by their dry-run forms. */
export const over = <A, E, R>(live: Layer.Layer<A, E, R>) => Layer.merge(live, layer.pipe(Layer.provide(live)))
