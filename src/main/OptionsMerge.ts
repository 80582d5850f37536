/**
 * The options file's words before the command line's: an option the command line gives drops
 * the file's, and only the options the command knows are taken from the file. Words are read as
 * @effect/cli reads them (`--name=value`, clustered short flags, a flag's `true`/`false`), so
 * that what is dropped is exactly what the parser would have seen.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { UsageError } from "../programs/ExitCode.js"
import * as Cli from "./Cli.js"
import * as OptionsFile from "./OptionsFile.js"
import type { OptionSpec } from "./OptionSpec.js"
import { specsOf } from "./OptionSpec.js"

interface Token {
  /** None: a word that is no option of any command (or an option cluster the parser refuses). */
  readonly spec: Option.Option<OptionSpec>
  readonly words: ReadonlyArray<string>
  /** An option that takes a value, last in its list of words. */
  readonly missingValue: boolean
}

// @effect/cli's own forms: a flag takes a following boolean word, `--name=value`, `-abc`.
const FALSE_WORDS = ["false", "0", "n", "no", "off"]
const BOOLEAN_WORDS = ["true", "1", "y", "yes", "on", ...FALSE_WORDS]
const LONG_WITH_VALUE = /^(--[^=]+)=(.+)$/
const CLUSTER = /^-([^-]{2,})$/

const byName = (specs: ReadonlyArray<OptionSpec>, word: string): OptionSpec | undefined =>
  specs.find(({ alias, name }) => word === `--${name}` || (alias !== undefined && word === `-${alias}`))

/** `words` as options of `specs`, in order. */
export const tokenize = (specs: ReadonlyArray<OptionSpec>, words: ReadonlyArray<string>): ReadonlyArray<Token> => {
  const tokens: Array<Token> = []
  const unknown = (word: string): Token => ({ spec: Option.none(), words: [word], missingValue: false })
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const inline = LONG_WITH_VALUE.exec(word)
    const cluster = CLUSTER.exec(word)
    const spec = byName(specs, inline === null ? word : inline[1]!)
    if (spec !== undefined && inline !== null) {
      tokens.push({ spec: Option.some(spec), words: [word], missingValue: false })
    } else if (spec !== undefined) {
      const next = words[i + 1]
      const takesNext = spec.argument !== undefined ? next !== undefined : next !== undefined && BOOLEAN_WORDS.includes(next)
      tokens.push({
        spec: Option.some(spec),
        words: takesNext ? [word, next!] : [word],
        missingValue: spec.argument !== undefined && !takesNext
      })
      if (takesNext) i++
    } else if (cluster !== null && inline === null) {
      const flags = [...cluster[1]!].map((letter) => byName(specs, `-${letter}`))
      if (flags.every((flag) => flag !== undefined && flag.argument === undefined)) {
        for (const flag of flags) tokens.push({ spec: Option.some(flag!), words: [`-${flag!.alias}`], missingValue: false })
      } else tokens.push(unknown(word))
    } else tokens.push(unknown(word))
  }
  return tokens
}

export interface Merged {
  readonly words: ReadonlyArray<string>
  /** What was not taken from the file, and why: for the debug log. */
  readonly notes: ReadonlyArray<string>
}

export interface Command {
  /** As messages name it: `cloudbackup-updater`, `status`. */
  readonly name: string
  readonly known: ReadonlyArray<OptionSpec>
  /**
   * Whether a word of the file the command does not know is an error (the service, given the
   * same words, would fail on it too) rather than ignored.
   */
  readonly refuseUnknown: boolean
}

/** Every option of every command, so that a word is read with its value whichever command knows it. */
const everyOption: ReadonlyArray<OptionSpec> = Object.values(Cli.described).flatMap((described) =>
  specsOf(described)
).filter((spec, i, all) => all.findIndex(({ name }) => name === spec.name) === i)

/** A hand-run pass stays a plain one whatever the file says (it documents that these do not belong there). */
const MODES = ["daemon", "staged"]

const nameOf = (token: Token) => Option.map(token.spec, ({ name }) => name)

const sameOption = (a: Token) => (b: Token) => Option.isSome(a.spec) && Option.contains(nameOf(b), a.spec.value.name)

/** A flag's value: `-v`, `-v yes`, `--verbose=false`. */
const flagValue = (token: Token): boolean => {
  const value = token.words.length > 1 ? token.words[1]! : LONG_WITH_VALUE.exec(token.words[0]!)?.[2]
  return value === undefined || !FALSE_WORDS.includes(value)
}

/** The file's words that `command` takes, then the command line's. Fails with a usage error's text. */
export const merge = (
  command: Command,
  file: OptionsFile.FileOptions,
  cliWords: ReadonlyArray<string>
): Either.Either<Merged, string> => {
  const origin = OptionsFile.originOf(file)
  // A file's words are those of its CLOUDBACKUP_UPDATER_OPTS line; the variable's are named by `origin` already.
  const where = Option.isSome(file.line) ? ` in ${OptionsFile.OPTIONS_VARIABLE}` : ""
  const isKnown = (token: Token) =>
    Option.exists(token.spec, ({ name }) => command.known.some((spec) => spec.name === name))
  const fileTokens = tokenize(everyOption, file.words)
  const cliTokens = tokenize(everyOption, cliWords).filter(isKnown)
  const kept: Array<string> = []
  const notes: Array<string> = []
  const note = (token: Token, why: string) =>
    notes.push(`${origin}: ${token.words.join(" ")}${where} ignored: ${why}`)

  for (const [i, token] of fileTokens.entries()) {
    const shown = token.words.join(" ")
    if (!isKnown(token)) {
      const what = `${JSON.stringify(shown)}${where} is not an option of ${command.name}`
      if (command.refuseUnknown) return Either.left(`${origin}: ${what}`)
      note(token, `not an option of ${command.name}`)
    } else if (token.missingValue) {
      return Either.left(`${origin}: ${shown}${where} needs a value`)
    } else if (Option.exists(nameOf(token), (name) => MODES.includes(name))) {
      note(token, "only the command line chooses the daemon or a staged pass")
    } else if (cliTokens.some(sameOption(token))) {
      // The service gives these options on its command line too: the same words again are no news.
      if (!cliTokens.some((cli) => cli.words.join("\0") === token.words.join("\0"))) note(token, "the command line gives it")
    } else if (fileTokens.slice(i + 1).some(sameOption(token))) {
      note(token, "given again later")
    } else kept.push(...token.words)
  }
  return Either.right({ words: [...kept, ...cliWords], notes })
}

const commands: Record<"update" | "status", Command> = {
  update: { name: "cloudbackup-updater", known: specsOf(Cli.described.update), refuseUnknown: true },
  status: { name: "status", known: specsOf(Cli.described.status), refuseUnknown: false }
}

// @effect/cli's own options that run no command (the wizard asks for the whole command line): a
// broken options file must not get in their way.
const BUILT_IN_ALONE = ["-h", "--help", "--version", "--completions", "--wizard"]

export interface WithOptions {
  readonly argv: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

/**
 * `argv` (`node script [command] …`) with the options file's words put before the command
 * line's. `simulate`, `--help`, `--version` and `--wizard` read no file.
 */
export const withOptionsFile = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  read: OptionsFile.ReadText
): Effect.Effect<WithOptions, UsageError> => {
  const which = Cli.commandOf(argv)
  const start = which === "update" ? 2 : 3
  // @effect/cli takes its --log-level only before the command's options: it stays there.
  const first = argv[start]
  const head = argv.slice(0, start + (first === "--log-level" ? 2 : first?.startsWith("--log-level=") ? 1 : 0))
  const cliWords = argv.slice(head.length)
  const unchanged: WithOptions = { argv, notes: [] }
  if (which === "simulate" || cliWords.some((word) => BUILT_IN_ALONE.includes(word))) return Effect.succeed(unchanged)
  return OptionsFile.load(env, read).pipe(
    Effect.mapError((error) => new UsageError({ detail: error.message })),
    Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(unchanged),
      onSome: (file) =>
        Either.match(merge(commands[which], file, cliWords), {
          onLeft: (detail) => Effect.fail(new UsageError({ detail })),
          onRight: ({ notes, words }): Effect.Effect<WithOptions> => Effect.succeed({ argv: [...head, ...words], notes })
        })
    }))
  )
}

/** Whether the command line asks for debug lines: `-v` (not `-v false`), or @effect/cli's `--log-level debug`. */
export const wantsDebug = (argv: ReadonlyArray<string>): boolean => {
  const words = argv.slice(2)
  const verbose = tokenize(everyOption, words).filter((token) => Option.contains(nameOf(token), "verbose")).at(-1)
  const level = words.flatMap((word, i) =>
    word === "--log-level" ? [words[i + 1] ?? ""] : word.startsWith("--log-level=") ? [word.slice("--log-level=".length)] : []
  ).at(-1)
  return (verbose !== undefined && flagValue(verbose)) || (level !== undefined && /^(all|trace|debug)$/i.test(level))
}
