/**
 * An option as `--help` shows it. The @effect/cli `Options` are built from the same spec, so the
 * help cannot name a flag the parser does not know, nor forget one it does.
 */
import * as Options from "@effect/cli/Options"

export interface OptionSpec {
  /** The long name, without `--`. */
  readonly name: string
  /** The one-letter short name, without `-`. */
  readonly alias?: string
  /** The value's name (`URI`); none for a flag. */
  readonly argument?: string
  readonly description: string
  /** The value without the option: the parser's default, shown by the help. */
  readonly default?: string
  /** What applies without the option when the parser has no default value for it (`detected`). */
  readonly otherwise?: string
  /** What the shell completions offer for the value: file names, or these words (the only ones the parser accepts); nothing without it. */
  readonly values?: "file" | ReadonlyArray<string>
}

export interface Described<A> {
  readonly spec: OptionSpec
  readonly options: Options.Options<A>
}

const named = <A>(spec: OptionSpec, options: Options.Options<A>): Options.Options<A> =>
  Options.withDescription(spec.alias === undefined ? options : Options.withAlias(options, spec.alias), spec.description)

export const flag = (spec: OptionSpec): Described<boolean> => ({ spec, options: named(spec, Options.boolean(spec.name)) })

/** An option with a value, read as text (with the spec's default if it has one); `parse` checks or converts it. */
export const value = <A>(
  spec: OptionSpec & { readonly argument: string },
  parse: (text: Options.Options<string>) => Options.Options<A>
): Described<A> => {
  const text = Options.withPseudoName(named(spec, Options.text(spec.name)), spec.argument)
  return { spec, options: parse(spec.default === undefined ? text : Options.withDefault(text, spec.default)) }
}

/** The `Options` of a record of described options, for `Command.make`. */
export const optionsOf = <D extends Record<string, Described<any>>>(
  described: D
): { readonly [K in keyof D]: D[K]["options"] } =>
  Object.fromEntries(Object.entries(described).map(([key, { options }]) => [key, options])) as any

export const specsOf = (described: Record<string, Described<unknown>>): ReadonlyArray<OptionSpec> =>
  Object.values(described).map(({ spec }) => spec)
