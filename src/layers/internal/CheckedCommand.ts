/**
 * Runs a command whose non-zero exit status is a failure, turning both a failed
 * spawn and a failed exit into the caller's one-line error.
 */
import * as Effect from "effect/Effect"
import { type CommandResult, lastLine, type RunOptions, type ShellShape } from "../../services/Shell.js"

export const runChecked = <E>(
  shell: ShellShape,
  argv: readonly [string, ...Array<string>],
  options: RunOptions,
  onFailure: (detail: string) => E
): Effect.Effect<CommandResult, E> =>
  shell.run(argv, options).pipe(
    Effect.mapError((error) => onFailure(error.message)),
    Effect.flatMap((result) => (result.exitCode === 0 ? Effect.succeed(result) : Effect.fail(onFailure(lastLine(result)))))
  )
