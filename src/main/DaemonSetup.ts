/**
 * What `-d` checks before anything else happens, and where its log goes: the
 * `-l` file; under systemd without `-l`, stderr for the journal; else the
 * default log file.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RotatingLogFile from "../layers/internal/RotatingLogFile.js"
import type { UpdateOptions } from "./Cli.js"
import { DEFAULT_LOG_FILE } from "./Cli.js"
import { UsageError } from "../programs/ExitCode.js"
import * as Logging from "./Logging.js"

const requireDirectory = (option: string, file: string) => {
  const directory = path.dirname(path.resolve(file))
  let isDirectory = false
  try {
    isDirectory = fs.statSync(directory).isDirectory()
  } catch { /* reported below */ }
  return isDirectory
    ? Effect.void
    : Effect.fail(new UsageError({ detail: `${option}: the directory ${directory} does not exist` }))
}

export const logDestination = (options: UpdateOptions, env: NodeJS.ProcessEnv): Option.Option<string> =>
  Option.orElse(options.logFile, () => (env["INVOCATION_ID"] === undefined ? Option.some(DEFAULT_LOG_FILE) : Option.none()))

/**
 * Checks the pidfile and log file paths and opens the log; the logger layer for the daemon's run.
 * `journal`: stderr is the journal's stream.
 */
export const prepare = (options: UpdateOptions, env: NodeJS.ProcessEnv, journal: boolean) =>
  Effect.gen(function*() {
    yield* requireDirectory("-p/--pidfile", options.pidfile)
    const destination = logDestination(options, env)
    if (Option.isNone(destination)) return Logging.stderrLayer(options.verbose, journal)
    const file = destination.value
    yield* requireDirectory("-l/--log-file", file)
    const log = yield* Effect.acquireRelease(
      Effect.try({
        try: () => RotatingLogFile.open(file),
        catch: (error) =>
          new UsageError({ detail: `-l/--log-file: cannot open ${file}: ${(error as NodeJS.ErrnoException).code ?? error}` })
      }),
      (log) => Effect.sync(log.close)
    )
    return Logging.useLogger(log.logger, options.verbose)
  })
