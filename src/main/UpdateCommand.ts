/** The updater's own command: one pass (staged or not), or the daemon, on live layers. Loaded by main when it runs. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { unitFromEnvironment } from "../domain/RolloutDelay.js"
import * as DryRun from "../layers/DryRun.js"
import * as NodeMetricsSink from "../layers/NodeMetricsSink.js"
import * as Daemon from "../programs/Daemon.js"
import { UsageError } from "../programs/ExitCode.js"
import { recordingMetrics } from "../programs/PassMetrics.js"
import * as StagedPass from "../programs/StagedPass.js"
import { type PassOutcome, updatePass } from "../programs/UpdatePass.js"
import type { MetricsSink } from "../services/MetricsSink.js"
import type { UpdaterConfigShape } from "../services/UpdaterConfig.js"
import type * as Cli from "./Cli.js"
import * as DaemonMemory from "./DaemonMemory.js"
import * as DaemonSetup from "./DaemonSetup.js"
import * as LiveHost from "./LiveHost.js"
import * as Logging from "./Logging.js"

export const liveHost = (options: Cli.HostOptions, config: Partial<UpdaterConfigShape> = {}) =>
  LiveHost.layer({
    config: { repository: options.repository, ...config },
    packageManager: options.packageManager,
    serviceManager: options.serviceManager
  })

const passConfig = (options: Cli.UpdateOptions): Partial<UpdaterConfigShape> => ({
  maxBusyWait: Option.map(options.maxWait, Duration.minutes),
  healthGrace: Duration.seconds(options.healthGrace),
  upgradeWithoutRollback: options.upgradeWithoutRollback
})

/** `--metrics-dir`, checked before anything runs: a directory that does not exist is a usage error. A dry run writes none. */
const metricsFor = (options: Cli.UpdateOptions) =>
  Layer.build(NodeMetricsSink.layerFor(options.metricsDir)).pipe(
    Effect.map((context) => Layer.succeedContext(context)),
    Effect.mapError((error) => new UsageError({ detail: `--metrics-dir: ${error.message}` }))
  )

const hostFor = (options: Cli.UpdateOptions, metrics: Layer.Layer<MetricsSink>) => {
  const live = Layer.merge(liveHost(options, passConfig(options)), metrics)
  return options.dryRun ? DryRun.over(live) : live
}

const stagedOptions = (options: Cli.UpdateOptions): StagedPass.StagedOptions => ({
  interval: Duration.minutes(options.interval),
  delayUnit: unitFromEnvironment(process.env)
})

/** `journal`: stderr is the journal's stream (see JournalStream.isJournal). */
export const oneShot = (options: Cli.UpdateOptions, journal: boolean) =>
  Effect.flatMap(metricsFor(options), (metrics) =>
    (options.staged
      ? StagedPass.once(stagedOptions(options)).pipe(recordingMetrics(({ outcome }) => outcome), Effect.map(({ outcome }) => outcome))
      : recordingMetrics((outcome: PassOutcome) => outcome)(updatePass)).pipe(
        Effect.zipLeft(options.dryRun ? Effect.logInfo("dry run: nothing was changed") : Effect.void),
        Effect.provide(hostFor(options, metrics)),
        Effect.provide(Logging.stderrLayer(options.verbose, journal))
      )).pipe(Effect.scoped)

export const daemon = (options: Cli.UpdateOptions, journal: boolean) =>
  Effect.gen(function*() {
    // Before the log file is opened (created): a bad command line changes nothing.
    const metrics = yield* metricsFor(options)
    const logger = yield* DaemonSetup.prepare(options, process.env, journal)
    DaemonMemory.limitFootprint()
    yield* Daemon.run({ pidfile: options.pidfile, ...stagedOptions(options), afterCheck: Effect.sync(DaemonMemory.reduceMemory) }).pipe(
      Effect.provide(hostFor(options, metrics)),
      Effect.tapError((error) => Effect.logError(error.message)),
      Effect.provide(logger)
    )
  }).pipe(Effect.scoped)
