/** The text of one log event: `level: message`, with the first line of a cause. */
import * as Cause from "effect/Cause"
import type * as Logger from "effect/Logger"

export const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((part) => (typeof part === "string" ? part : String(part))).join(" ")

/** The message, with the first line of a cause: what the journal shows beside its own priority. */
export const bodyOf = (options: Logger.Logger.Options<unknown>): string => {
  const cause = Cause.isEmpty(options.cause) ? "" : ` (${Cause.pretty(options.cause).split("\n")[0]})`
  return `${messageText(options.message)}${cause}`
}

export const lineOf = (options: Logger.Logger.Options<unknown>): string =>
  `${options.logLevel.label.toLowerCase()}: ${bodyOf(options)}`

/** The log file's form: `2026-11-26T10:00:00.000Z INFO message`. */
export const stampedLineOf = (options: Logger.Logger.Options<unknown>): string =>
  `${options.date.toISOString()} ${options.logLevel.label} ${lineOf(options).replace(/^\w+: /, "")}`
