/** The contract's exit status for how a run ended, and the one line it prints about a failure. */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_ALREADY_RUNNING = 3

/** A bad command line found after parsing (a missing log directory, say). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

export class AlreadyRunning extends Data.TaggedError("AlreadyRunning")<{ readonly pid: number }> {
  override get message(): string {
    return `already running (pid ${this.pid})`
  }
}

export interface Verdict {
  readonly code: number
  /** What to print on stderr; none when it has been printed already (by @effect/cli) or there is nothing to say. */
  readonly line: Option.Option<string>
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error) // a cycle, or a bigint
  }
}

/** A defect (a bug, a throw inside a layer) in one line: its message, its line breaks folded. */
export const describeDefect = (cause: Cause.Cause<unknown>): string =>
  `internal error: ${describe(Cause.squash(cause)).trim().replace(/\s*\n\s*/g, " ")}`

export const verdict = (exit: Exit.Exit<unknown, unknown>, interruptedCode: number): Verdict => {
  if (Exit.isSuccess(exit)) return { code: EXIT_OK, line: Option.none() }
  if (Cause.isInterruptedOnly(exit.cause)) {
    return { code: interruptedCode, line: interruptedCode === EXIT_OK ? Option.none() : Option.some("interrupted") }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    return { code: EXIT_FAILED, line: Option.some(describeDefect(exit.cause)) }
  }
  const error = failure.value
  if (ValidationError.isValidationError(error)) return { code: EXIT_USAGE, line: Option.none() }
  if (error instanceof UsageError) return { code: EXIT_USAGE, line: Option.some(error.message) }
  if (error instanceof AlreadyRunning) return { code: EXIT_ALREADY_RUNNING, line: Option.some(error.message) }
  return { code: EXIT_FAILED, line: Option.some(describe(error)) }
}
