/**
 * Runs the command that `argv` names through @effect/cli, except for two of its
 * built-in options: `--help` prints this program's own help, and `--wizard`
 * (interactive prompts) is refused when stdin is not a terminal.
 *
 * The command line is parsed once: a valid one runs its handler with the parsed
 * options, as `Command.run` would; anything else (a usage error, `--version`,
 * `--completions`, `--wizard` on a terminal) goes to `Command.run`, which parses
 * it again and reports or acts on it itself.
 */
import * as BuiltInOptions from "@effect/cli/BuiltInOptions"
import type * as CliApp from "@effect/cli/CliApp"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDirective from "@effect/cli/CommandDirective"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { UsageError } from "../programs/ExitCode.js"
import * as Cli from "./Cli.js"

/** What the one parse decided: our own help, the wizard, the handler with its options, or @effect/cli's own run. */
type Decision<A> =
  | { readonly _tag: "help" }
  | { readonly _tag: "wizard" }
  | { readonly _tag: "run"; readonly value: A }
  | { readonly _tag: "delegate" }

/** `args` without `--log-level` and its value, as @effect/cli parses them again after setting the level. */
const withoutLogLevel = (args: ReadonlyArray<string>) =>
  args.filter((arg, i) => arg !== "--log-level" && !arg.startsWith("--log-level=") && args[i - 1] !== "--log-level")

const decide = <A>(
  command: Descriptor.Command<A>,
  name: string,
  args: ReadonlyArray<string>,
  logLevelSeen: boolean
): Effect.Effect<Decision<A>, never, CliApp.CliApp.Environment> =>
  Effect.serviceOption(CliConfig.CliConfig).pipe(
    Effect.flatMap((config) =>
      Descriptor.parse(command, [name, ...args], config._tag === "Some" ? config.value : CliConfig.defaultConfig)
    ),
    Effect.flatMap((directive): Effect.Effect<Decision<A>, never, CliApp.CliApp.Environment> => {
      if (!CommandDirective.isBuiltIn(directive)) {
        // With --log-level, @effect/cli's run sets the level around the handler: left to it.
        return Effect.succeed(
          directive.leftover.length === 0 && !logLevelSeen ? { _tag: "run", value: directive.value } : { _tag: "delegate" }
        )
      }
      const option = directive.option
      if (BuiltInOptions.isShowHelp(option)) return Effect.succeed({ _tag: "help" })
      if (BuiltInOptions.isShowWizard(option)) return Effect.succeed({ _tag: "wizard" })
      return option._tag === "SetLogLevel"
        ? decide(command, name, withoutLogLevel(args), true)
        : Effect.succeed({ _tag: "delegate" })
    }),
    // A bad command line is reported by `Command.run`, with its own message.
    Effect.orElseSucceed((): Decision<A> => ({ _tag: "delegate" }))
  )

export const run = <E, R>(
  commands: ReturnType<typeof Cli.make<E, R>>,
  app: { readonly name: string; readonly version: string },
  argv: ReadonlyArray<string>,
  interactive: boolean
) => {
  const which = Cli.commandOf(argv)
  const name = which === "update" ? app.name : which
  const args = argv.slice(which === "update" ? 2 : 3)
  const [runtime = "", script = ""] = argv
  const delegate = () =>
    which === "update"
      ? Command.run(commands.update, app)(argv)
      : which === "status"
      ? Command.run(commands.status, { ...app, executable: `${app.name} status` })([runtime, script, ...args])
      : Command.run(commands.simulate, { ...app, executable: `${app.name} simulate` })([runtime, script, ...args])
  /** The handler with the parsed options, as `Command.run` runs it. */
  const handle = (value: unknown): Effect.Effect<void, E, R> => {
    const command = commands[which] as unknown as Command.Command<string, R, E, unknown>
    return command.transform(command.handler(value), value)
  }
  const descriptor: Descriptor.Command<unknown> = commands[which].descriptor
  return decide(descriptor, name, args, false).pipe(
    Effect.flatMap((decision): Effect.Effect<void, E | ValidationError.ValidationError | UsageError, R | CliApp.CliApp.Environment> => {
      switch (decision._tag) {
        case "run":
          return handle(decision.value)
        case "help":
          return Console.log(Cli.help(which))
        case "wizard":
          return interactive ? delegate() : Effect.fail(new UsageError({ detail: "--wizard: stdin is not a terminal" }))
        case "delegate":
          return delegate()
      }
    })
  )
}
