/** The executable: parses the command line, runs the chosen program on live layers, exits with the contract's status. */
// First: the daemon's V8 flags must hold before the other modules are evaluated.
import "./DaemonMemory.js"
import * as fs from "node:fs"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as JournalStream from "../domain/JournalStream.js"
import * as Cli from "./Cli.js"
import * as CliRun from "./CliRun.js"
import { withCliConsole } from "./CliConsole.js"
import { EXIT_FAILED, EXIT_OK, verdict } from "../programs/ExitCode.js"
import * as Logging from "./Logging.js"
import * as OptionsFile from "./OptionsFile.js"
import * as OptionsMerge from "./OptionsMerge.js"

declare const __UPDATER_VERSION__: string
const VERSION = typeof __UPDATER_VERSION__ === "string" ? __UPDATER_VERSION__ : "development"

/** Under systemd, stderr may be the journal's stream: lines then carry their priority. */
const journal = JournalStream.isJournal(process.env, (fd) => fs.fstatSync(fd, { bigint: true }))

// Each command's code is loaded when it runs: a pass does not evaluate the simulations, and
// `--help` or a usage error nothing but the command line (and no live layer's Node.js modules).
const commands = Cli.make({
  update: (options) =>
    Effect.flatMap(
      Effect.promise(() => import("./UpdateCommand.js")),
      (command): Effect.Effect<void, unknown> => (options.daemon ? command.daemon(options, journal) : Effect.asVoid(command.oneShot(options, journal)))
    ),
  status: (options) => Effect.flatMap(Effect.promise(() => import("./StatusCommand.js")), (command) => command.run(options, journal)),
  simulate: (options) => Effect.flatMap(Effect.promise(() => import("./SimulateCommand.js")), (command) => command.run(options))
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
