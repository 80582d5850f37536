/**
 * Log lines: `level: message`, on a terminal stream or (see LogFile) in the daemon's log file; on
 * a stderr connected to the journal, `<N>message` with the sd-daemon(3) priority instead of the word.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { priorityOf, withPriority } from "../domain/JournalStream.js"
import { bodyOf, lineOf } from "../domain/LogLine.js"
import { wantsColor } from "./CliConsole.js"

const COLORS: Partial<Record<LogLevel.LogLevel["_tag"], string>> = {
  Error: "\x1b[31m",
  Fatal: "\x1b[31m",
  Warning: "\x1b[33m",
  Debug: "\x1b[2m"
}

/** A logger writing one line per event to a terminal stream, coloured when it is a terminal. */
export const streamLogger = (stream: NodeJS.WriteStream, prefix: (date: Date) => string = () => "") =>
  Logger.make<unknown, void>((options) => {
    const line = `${prefix(options.date)}${lineOf(options)}`
    const color = wantsColor(stream) ? COLORS[options.logLevel._tag] : undefined
    stream.write(color === undefined ? `${line}\n` : `${color}${line}\x1b[0m\n`)
  })

/** A logger for a stream the journal reads: the priority prefix on every line, no colour. */
export const journalLogger = (stream: Pick<NodeJS.WriteStream, "write">) =>
  Logger.make<unknown, void>((options) => {
    stream.write(`${withPriority(priorityOf(options.logLevel), bodyOf(options))}\n`)
  })

export const level = (verbose: boolean) => Logger.minimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Info)

export const useLogger = (logger: Logger.Logger<unknown, void>, verbose: boolean): Layer.Layer<never> =>
  Layer.merge(Logger.replace(Logger.defaultLogger, logger), level(verbose))

/** `journal`: stderr is the journal's stream (see JournalStream.isJournal). */
export const stderrLogger = (stream: NodeJS.WriteStream, journal: boolean): Logger.Logger<unknown, void> =>
  journal ? journalLogger(stream) : streamLogger(stream)

export const stderrLayer = (verbose: boolean, journal: boolean): Layer.Layer<never> =>
  useLogger(stderrLogger(process.stderr, journal), verbose)

/**
 * `effect` logging as under `stderrLayer`, and nothing after it: a provided layer's level stays
 * with the fiber, and a debug level would then show the runtime's own debug line about a failure.
 */
export const withStderrLogger = (verbose: boolean, journal: boolean) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Logger.withMinimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Info),
    Effect.locally(FiberRef.currentLoggers, HashSet.make(stderrLogger(process.stderr, journal)))
  )

/** For `simulate`: on stdout, in order with its report, each line stamped with the seconds since the start. */
export const stdoutElapsedLayer = (verbose: boolean, start: number = Date.now()): Layer.Layer<never> =>
  useLogger(
    streamLogger(process.stdout, (date) => `[+${((date.getTime() - start) / 1000).toFixed(1).padStart(4)}s] `),
    verbose
  )
