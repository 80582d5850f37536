/** The executable: parses the command line, runs the chosen program on live layers, exits with the contract's status. */
import * as fs from "node:fs"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as JournalStream from "../domain/JournalStream.js"
import { unitFromEnvironment } from "../domain/RolloutDelay.js"
import * as DryRun from "../layers/DryRun.js"
import * as NodeMetricsSink from "../layers/NodeMetricsSink.js"
import * as LiveHost from "./LiveHost.js"
import type { UpdaterConfigShape } from "../services/UpdaterConfig.js"
import * as Cli from "./Cli.js"
import * as CliRun from "./CliRun.js"
import { withCliConsole } from "./CliConsole.js"
import * as Daemon from "../programs/Daemon.js"
import * as DaemonSetup from "./DaemonSetup.js"
import { EXIT_FAILED, EXIT_OK, UsageError, verdict } from "../programs/ExitCode.js"
import * as Logging from "./Logging.js"
import * as OptionsFile from "./OptionsFile.js"
import * as OptionsMerge from "./OptionsMerge.js"
import { simulate } from "./Simulate.js"
import { simulateFleet } from "./FleetSimulate.js"
import * as StagedPass from "../programs/StagedPass.js"
import { status } from "../programs/Status.js"
import { type PassOutcome, updatePass } from "../programs/UpdatePass.js"
import { recordingMetrics } from "../programs/PassMetrics.js"
import type { MetricsSink } from "../services/MetricsSink.js"

declare const __UPDATER_VERSION__: string
const VERSION = typeof __UPDATER_VERSION__ === "string" ? __UPDATER_VERSION__ : "development"

/** Under systemd, stderr may be the journal's stream: lines then carry their priority. */
const journal = JournalStream.isJournal(process.env, (fd) => fs.fstatSync(fd, { bigint: true }))

const liveHost = (options: Cli.HostOptions, config: Partial<UpdaterConfigShape> = {}) =>
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

const oneShot = (options: Cli.UpdateOptions) =>
  Effect.flatMap(metricsFor(options), (metrics) =>
    (options.staged
      ? StagedPass.once(stagedOptions(options)).pipe(recordingMetrics(({ outcome }) => outcome), Effect.map(({ outcome }) => outcome))
      : recordingMetrics((outcome: PassOutcome) => outcome)(updatePass)).pipe(
        Effect.zipLeft(options.dryRun ? Effect.logInfo("dry run: nothing was changed") : Effect.void),
        Effect.provide(hostFor(options, metrics)),
        Effect.provide(Logging.stderrLayer(options.verbose, journal))
      )).pipe(Effect.scoped)

const daemon = (options: Cli.UpdateOptions) =>
  Effect.gen(function*() {
    // Before the log file is opened (created): a bad command line changes nothing.
    const metrics = yield* metricsFor(options)
    const logger = yield* DaemonSetup.prepare(options, process.env, journal)
    yield* Daemon.run({ pidfile: options.pidfile, ...stagedOptions(options) }).pipe(
      Effect.provide(hostFor(options, metrics)),
      Effect.tapError((error) => Effect.logError(error.message)),
      Effect.provide(logger)
    )
  }).pipe(Effect.scoped)

/** `simulate`: the four-host demonstration, or with `--hosts` the fleet's rollout; the fleet's options need `--hosts`. */
const simulateCommand = (options: Cli.SimulateOptions) =>
  Option.match(options.hosts, {
    onNone: () =>
      Option.isSome(options.hours) || Option.isSome(options.seed) || Option.isSome(options.failVersion) || options.json
        ? Effect.fail(new UsageError({ detail: "simulate: --hours, --seed, --fail-version and --json go with --hosts" }))
        : simulate.pipe(Effect.provide(Logging.stdoutElapsedLayer(options.verbose))),
    onSome: (hosts) =>
      Effect.flatMap(
        Option.match(options.seed, {
          onNone: () => Effect.map(Random.nextIntBetween(0, 1_000_000_000), String),
          onSome: Effect.succeed
        }),
        (seed) =>
          simulateFleet({
            hosts,
            hours: Option.getOrElse(options.hours, () => 48),
            seed,
            failVersion: Option.getOrUndefined(options.failVersion),
            json: options.json
          })
      )
  })

const commands = Cli.make({
  update: (options) => (options.daemon ? daemon(options) : oneShot(options)),
  status: (options) =>
    status(options).pipe(Effect.provide(liveHost(options)), Effect.provide(Logging.stderrLayer(false, journal))),
  simulate: (options) => simulateCommand(options)
})

const app = { name: "cloudbackup-updater", version: VERSION }

const cli = (argv: ReadonlyArray<string>) => CliRun.run(commands, app, argv, process.stdin.isTTY === true)

/** The command line after the options file's words; what was left out of those goes to the debug log. */
const withOptionsFile = (argv: ReadonlyArray<string>) =>
  OptionsMerge.withOptionsFile(argv, process.env, OptionsFile.readText).pipe(
    Effect.tap(({ argv, notes }) =>
      Effect.forEach(notes, (note) => Effect.logDebug(note)).pipe(Logging.withStderrLogger(OptionsMerge.wantsDebug(argv), journal))
    ),
    Effect.flatMap(({ argv }) => cli(argv))
  )

// @effect/cli reads files only for file-typed arguments, which this command line has none of: a
// file system that does nothing keeps Node's (and the streams it pulls in) out of the bundle.
const cliEnvironment = Layer.mergeAll(FileSystem.layerNoop({}), Path.layer, NodeTerminal.layer)

const program = withCliConsole(Effect.suspend(() => withOptionsFile(process.argv)), journal).pipe(Effect.provide(cliEnvironment))

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    // A signal ends the daemon or a staged pass cleanly; it cuts a one-shot pass short, which is a failure.
    const { code, line } = verdict(exit as Exit.Exit<unknown, unknown>, Cli.stopsOnSignal(process.argv) ? EXIT_OK : EXIT_FAILED)
    if (Option.isSome(line)) {
      const text = `cloudbackup-updater: ${line.value}`
      process.stderr.write(`${journal ? JournalStream.withPriority(JournalStream.PRIORITY_ERROR, text) : text}\n`)
    }
    onExit(code)
    process.exit(code)
  }
})
