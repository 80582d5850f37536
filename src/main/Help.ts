/**
 * `--help` in the style of a system tool: usage lines, a summary, one entry per
 * option with its default, the commands, the exit status; at most 80 columns.
 */
import type { OptionSpec } from "./OptionSpec.js"

export const WIDTH = 80
/** Where option descriptions start; a longer option puts its description on the next line. */
const COLUMN = 26

export interface Page {
  /** The synopses, each after `Usage: `. */
  readonly usage: ReadonlyArray<string>
  readonly summary: string
  readonly options: ReadonlyArray<OptionSpec>
  readonly commands: ReadonlyArray<readonly [name: string, summary: string]>
  readonly footer: ReadonlyArray<string>
}

/** Words, except that a `(default: …)` is one unless it is too wide for a line. */
const units = (text: string, width: number): Array<string> =>
  (text.match(/\(default: [^)]*\)|\S+/g) ?? []).flatMap((unit) => unit.length <= width ? [unit] : unit.split(" "))

/** `text` in lines of at most `width` columns (but for a longer word). */
export const wrap = (text: string, width: number): Array<string> =>
  units(text, width).reduce<Array<string>>((lines, word) => {
    const last = lines[lines.length - 1]
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`
    else lines.push(word)
    return lines
  }, [])

/** `-r, --repository URI`, or `    --max-wait MINUTES` without a short name. */
export const flags = (spec: OptionSpec): string =>
  `${spec.alias === undefined ? "    " : `-${spec.alias}, `}--${spec.name}${spec.argument === undefined ? "" : ` ${spec.argument}`}`

const described = (spec: OptionSpec): string => {
  const otherwise = spec.default ?? spec.otherwise
  return otherwise === undefined ? spec.description : `${spec.description} (default: ${otherwise})`
}

const entry = (column: number) => (left: string, text: string): Array<string> => {
  const indent = " ".repeat(column)
  const [first = "", ...rest] = wrap(text, WIDTH - column)
  const head = `  ${left}`
  const body = rest.map((line) => indent + line)
  return head.length < column - 1 ? [head.padEnd(column) + first, ...body] : [head, indent + first, ...body]
}

/** `command [-r URI] [-v]` when that fits on a usage line, else `command [OPTION]...`. */
export const synopsis = (command: string, options: ReadonlyArray<OptionSpec>): string => {
  const each = options.map((spec) =>
    `[${spec.alias === undefined ? `--${spec.name}` : `-${spec.alias}`}${spec.argument === undefined ? "" : ` ${spec.argument}`}]`
  )
  const full = [command, ...each].join(" ")
  return "Usage: ".length + full.length <= WIDTH ? full : `${command} [OPTION]...`
}

export const render = (page: Page): string => {
  const commandColumn = Math.max(0, ...page.commands.map(([name]) => name.length)) + 4
  return [
    ...page.usage.map((line, i) => `${i === 0 ? "Usage: " : "       "}${line}`),
    ...wrap(page.summary, WIDTH),
    "",
    "Options:",
    ...page.options.flatMap((spec) => entry(COLUMN)(flags(spec), described(spec))),
    ...(page.commands.length === 0
      ? []
      : ["", "Commands:", ...page.commands.flatMap(([name, text]) => entry(commandColumn)(name, text))]),
    "",
    ...page.footer.flatMap((line) => wrap(line, WIDTH))
  ].join("\n")
}
