/**
 * Runs the command that `argv` names through @effect/cli, except for two of its
 * built-in options: `--help` prints this program's own help, and `--wizard`
 * (interactive prompts) is refused when stdin is not a terminal.
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
import * as Option from "effect/Option"
import { UsageError } from "../programs/ExitCode.js"
import * as Cli from "./Cli.js"

type Intercepted = "help" | "wizard"

/** `args` without `--log-level` and its value, as @effect/cli parses them again after setting the level. */
const withoutLogLevel = (args: ReadonlyArray<string>) =>
  args.filter((arg, i) => arg !== "--log-level" && !arg.startsWith("--log-level=") && args[i - 1] !== "--log-level")

/** The built-in option @effect/cli would act on, when it is one of these two; its own parse decides. */
const intercepted = <A>(
  command: Descriptor.Command<A>,
  name: string,
  args: ReadonlyArray<string>
): Effect.Effect<Option.Option<Intercepted>, never, CliApp.CliApp.Environment> =>
  Effect.serviceOption(CliConfig.CliConfig).pipe(
    Effect.flatMap((config) =>
      Descriptor.parse(command, [name, ...args], Option.getOrElse(config, () => CliConfig.defaultConfig))
    ),
    Effect.flatMap((directive): Effect.Effect<Option.Option<Intercepted>, never, CliApp.CliApp.Environment> => {
      if (!CommandDirective.isBuiltIn(directive)) return Effect.succeedNone
      const option = directive.option
      if (BuiltInOptions.isShowHelp(option)) return Effect.succeedSome("help")
      if (BuiltInOptions.isShowWizard(option)) return Effect.succeedSome("wizard")
      return option._tag === "SetLogLevel" ? intercepted(command, name, withoutLogLevel(args)) : Effect.succeedNone
    }),
    // A bad command line is reported by `Command.run`, with its own message.
    Effect.orElseSucceed(() => Option.none<Intercepted>())
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
  const descriptor: Descriptor.Command<unknown> = commands[which].descriptor
  return intercepted(descriptor, name, args).pipe(
    Effect.flatMap((option): Effect.Effect<void, E | ValidationError.ValidationError | UsageError, R | CliApp.CliApp.Environment> => {
      if (Option.isNone(option)) return delegate()
      if (option.value === "help") return Console.log(Cli.help(which))
      return interactive ? delegate() : Effect.fail(new UsageError({ detail: "--wizard: stdin is not a terminal" }))
    })
  )
}
