/**
 * Runs programs with an argument vector — never through a shell.
 * A non-zero exit status is a result, not an error: callers decide what it means.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"

export interface CommandResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Added to the updater's own environment. */
  readonly env?: Readonly<Record<string, string>>
  /** The child is sent SIGTERM after this long, and SIGKILL after a grace period. */
  readonly timeout?: Duration.DurationInput
  /**
   * `"discard"` connects the child's stdio to /dev/null: for commands that start
   * daemons, which would otherwise keep the captured output's file for as long as they run.
   */
  readonly output?: "capture" | "discard"
}

export class ShellError extends Data.TaggedError("ShellError")<{
  readonly argv: ReadonlyArray<string>
  readonly reason: "NotFound" | "SpawnFailed" | "TimedOut"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.argv[0]}: ${this.detail}`
  }
}

export interface ShellShape {
  /** Ends when the program itself exits: processes it started may outlive it. */
  readonly run: (
    argv: readonly [string, ...Array<string>],
    options?: RunOptions
  ) => Effect.Effect<CommandResult, ShellError>
}

export class Shell extends Context.Tag("cloudbackup-updater/Shell")<Shell, ShellShape>() {}

/** Error lines by how much they say: apt's `E:`, then dnf's and rpm's `Error:`, then any `Error …`. */
const ERROR_LINES = [/^E: /, /^(Error|error): /, /^(Error|error)\b/]

/**
 * The line of a failed command's output that names its error, for one-line messages: the last of
 * the most telling kind (not apt's closing "Errors were encountered while processing:"), else the
 * last line it printed.
 */
export const lastLine = (result: CommandResult): string => {
  const lines = `${result.stderr}\n${result.stdout}`.split("\n").map((line) => line.trim()).filter(Boolean)
  for (const kind of ERROR_LINES) {
    const line = lines.filter((candidate) => kind.test(candidate)).at(-1)
    if (line !== undefined) return line
  }
  return lines.at(-1) ?? `exit status ${result.exitCode}`
}
