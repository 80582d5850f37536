/**
 * How the package manager layers run their tools: with an argument vector, an
 * environment and a timeout, a failure becoming a PackageManagerError of one line.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { PackageManagerError } from "../../services/PackageManager.js"
import { type CommandResult, lastLine, type ShellShape } from "../../services/Shell.js"
import type { HostFileError } from "./HostFiles.js"

/** A query of the package database or of downloaded metadata. */
export const QUERY_TIMEOUT = Duration.minutes(2)
/** A download: metadata or packages. */
export const FETCH_TIMEOUT = Duration.minutes(10)
/** A transaction, maintainer scripts included. */
export const TRANSACTION_TIMEOUT = Duration.minutes(30)

/** The tools' messages untranslated: the layers read some of them. */
export const C_LOCALE_ENV: Readonly<Record<string, string>> = { LC_ALL: "C" }

type Argv = readonly [string, ...Array<string>]

export interface PackageCommands {
  /** Runs a tool; only a failed spawn (or a timeout) fails. Its exit status is the caller's to judge. */
  readonly run: (operation: string, argv: Argv, timeout: Duration.Duration) => Effect.Effect<CommandResult, PackageManagerError>
  /** Runs a tool; a non-zero exit status fails too, with the tool's last meaningful line. */
  readonly runChecked: (
    operation: string,
    argv: Argv,
    timeout: Duration.Duration
  ) => Effect.Effect<CommandResult, PackageManagerError>
  /** As `runChecked`, except for the non-zero exits `accepted` takes for an answer (`not installed`...). */
  readonly runAccepting: (
    operation: string,
    argv: Argv,
    timeout: Duration.Duration,
    accepted: (result: CommandResult) => boolean
  ) => Effect.Effect<CommandResult, PackageManagerError>
}

/**
 * The tools run in `env`, added to the updater's own environment; a failure is told by the line
 * `failureLine` picks from the output.
 */
export const packageCommands = (
  shell: ShellShape,
  env: Readonly<Record<string, string>>,
  failureLine: (result: CommandResult) => string = lastLine
): PackageCommands => {
  const run: PackageCommands["run"] = (operation, argv, timeout) =>
    shell.run(argv, { env, timeout }).pipe(
      Effect.mapError((error) => new PackageManagerError({ operation, detail: error.message }))
    )
  const runAccepting: PackageCommands["runAccepting"] = (operation, argv, timeout, accepted) =>
    run(operation, argv, timeout).pipe(
      Effect.filterOrFail(
        (result) => result.exitCode === 0 || accepted(result),
        (result) => new PackageManagerError({ operation, detail: failureLine(result) })
      )
    )
  return {
    run,
    runAccepting,
    runChecked: (operation, argv, timeout) => runAccepting(operation, argv, timeout, () => false)
  }
}

/** A host file that could not be read or written, as the failure of `operation`. */
export const fileFailure = (operation: string) => (error: HostFileError): PackageManagerError =>
  new PackageManagerError({ operation, detail: error.message })
