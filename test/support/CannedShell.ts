/** A Shell that gives every command the same answer: for error paths the fake host cannot produce. */
import * as Effect from "effect/Effect"
import type { CommandResult, ShellError, ShellShape } from "../../src/services/Shell.js"

export const cannedShell = (answer: CommandResult | ShellError): ShellShape => ({
  run: () => ("exitCode" in answer ? Effect.succeed(answer) : Effect.fail(answer))
})
