/** The executable: parses the command line, runs the chosen program on live layers, exits with the contract's status. */
import * as Command from "@effect/cli/Command"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Duration from "effect/Duration"
import { unitFromEnvironment } from "../domain/RolloutDelay.js"
import * as LiveHost from "../layers/LiveHost.js"
import * as NodePlanStore from "../layers/NodePlanStore.js"
import * as Daemon from "./Daemon.js"
import * as DaemonSetup from "./DaemonSetup.js"
import * as Cli from "./Cli.js"
import { EXIT_FAILED, EXIT_OK, verdict } from "./ExitCode.js"
import * as Logging from "./Logging.js"
import { withCliConsole } from "./CliConsole.js"
import { simulate } from "./Simulate.js"
import { updatePass } from "./UpdatePass.js"

declare const __UPDATER_VERSION__: string
const VERSION = typeof __UPDATER_VERSION__ === "string" ? __UPDATER_VERSION__ : "development"

/** A signal ends the daemon cleanly; it cuts a one-shot pass short, which is a failure. */
let interruptedExitCode = EXIT_FAILED

const oneShot = (options: Cli.UpdateOptions) =>
  updatePass.pipe(Effect.provide(LiveHost.layer(options)), Effect.provide(Logging.stderrLayer(options.verbose)))

const daemon = (options: Cli.UpdateOptions) =>
  Effect.gen(function*() {
    interruptedExitCode = EXIT_OK
    const logger = yield* DaemonSetup.prepare(options, process.env)
    yield* Daemon.run({
      pidfile: options.pidfile,
      interval: Duration.minutes(options.interval),
      delayUnit: unitFromEnvironment(process.env)
    }).pipe(
      Effect.provide(Layer.merge(LiveHost.layer(options), NodePlanStore.layer())),
      Effect.tapError((error) => Effect.logError(error.message)),
      Effect.provide(logger)
    )
  }).pipe(Effect.scoped)

const commands = Cli.make({
  update: (options) => (options.daemon ? daemon(options) : oneShot(options)),
  simulate: (options) => simulate.pipe(Effect.provide(Logging.stdoutElapsedLayer(options.verbose)))
})

const app = { name: "cloudbackup-updater", version: VERSION }
const cli = (argv: ReadonlyArray<string>) =>
  Cli.isSimulate(argv)
    ? Command.run(commands.simulate, { ...app, executable: "cloudbackup-updater simulate" })([argv[0]!, argv[1]!, ...argv.slice(3)])
    : Command.run(commands.update, app)(argv)

const cliEnvironment = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

const program = withCliConsole(Effect.suspend(() => cli(process.argv))).pipe(Effect.provide(cliEnvironment))

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const { code, line } = verdict(exit as Exit.Exit<unknown, unknown>, interruptedExitCode)
    if (Option.isSome(line)) process.stderr.write(`cloudbackup-updater: ${line.value}\n`)
    onExit(code)
    process.exit(code)
  }
})
