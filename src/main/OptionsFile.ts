/**
 * The packages' options file (/etc/default or /etc/sysconfig), read as systemd reads an
 * `EnvironmentFile=`, and its CLOUDBACKUP_UPDATER_OPTS split into words as systemd splits an
 * unquoted `$CLOUDBACKUP_UPDATER_OPTS` in `ExecStart=`. Where systemd silently skips a line it
 * cannot use (no `=`, a bad name, `export NAME=…`) or closes a quote the file never closes, this
 * parser fails, naming the line: such a file does not do what its author meant.
 */
import * as fs from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

export const OPTIONS_VARIABLE = "CLOUDBACKUP_UPDATER_OPTS"
/** Names the options file to read instead of the packages' (tests set it). */
export const FILE_VARIABLE = "CLOUDBACKUP_UPDATER_OPTIONS_FILE"
/** The deb's, then the rpm's. */
export const DEFAULT_FILES: ReadonlyArray<string> = ["/etc/default/cloudbackup-updater", "/etc/sysconfig/cloudbackup-updater"]

export class OptionsFileError extends Data.TaggedError("OptionsFileError")<{
  /** The file, or `$CLOUDBACKUP_UPDATER_OPTS` for the environment variable. */
  readonly source: string
  readonly line: Option.Option<number>
  readonly detail: string
}> {
  override get message(): string {
    return `${this.source}${Option.match(this.line, { onNone: () => "", onSome: (line) => `:${line}` })}: ${this.detail}`
  }
}

export interface Assignment {
  readonly name: string
  readonly value: string
  /** The line its name is on. */
  readonly line: number
}

/** The words of CLOUDBACKUP_UPDATER_OPTS and where they come from, for messages. */
export interface FileOptions {
  readonly words: ReadonlyArray<string>
  readonly source: string
  readonly line: Option.Option<number>
}

/** `source:line`, or the source alone. */
export const originOf = (options: Pick<FileOptions, "source" | "line">): string =>
  Option.match(options.line, { onNone: () => options.source, onSome: (line) => `${options.source}:${line}` })

const NEWLINE = "\n\r"
const WHITESPACE = " \t\n\r"
const COMMENT = "#;"
/** What a backslash escapes inside double quotes; before any other character it stays. */
const DOUBLE_QUOTE_ESCAPED = "\"\\`$"
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

type State =
  | "preKey"
  | "key"
  | "preValue"
  | "value"
  | "valueEscape"
  | "single"
  | "double"
  | "doubleEscape"
  | "comment"
  | "commentEscape"

/** The assignments of an EnvironmentFile, in order, as systemd's `load_env_file` reads them. */
export const parse = (text: string, source: string): Either.Either<ReadonlyArray<Assignment>, OptionsFileError> => {
  const fail = (line: number, detail: string) => new OptionsFileError({ source, line: Option.some(line), detail })
  const assignments: Array<Assignment> = []
  let state: State = "preKey"
  let key = ""
  let value = ""
  let line = 1
  let keyLine = 1
  let quoteLine = 1
  // Where trailing blanks of an unquoted value start, to strip them; -1: none.
  let trailingBlank = -1

  /** The assignment read; an error when it is none. */
  const push = (): OptionsFileError | undefined => {
    const name = key.replace(/[ \t\n\r]+$/, "")
    if (/^export[ \t]/.test(name)) {
      return fail(keyLine, `"export" is not understood by systemd: write ${name.replace(/^export[ \t]+/, "")}=… without it`)
    }
    if (!NAME.test(name)) return fail(keyLine, `${JSON.stringify(name)} is not a variable name`)
    assignments.push({ name, value, line: keyLine })
    key = ""
    value = ""
    return undefined
  }
  const notAssignment = () => fail(keyLine, `${JSON.stringify(key.trim())} is not an assignment (NAME=VALUE)`)

  for (const c of text) {
    switch (state) {
      case "preKey":
        if (COMMENT.includes(c)) state = "comment"
        else if (!WHITESPACE.includes(c)) {
          state = "key"
          key = c
          keyLine = line
        }
        break
      case "key":
        if (NEWLINE.includes(c)) return Either.left(notAssignment())
        if (c === "=") {
          state = "preValue"
          trailingBlank = -1
        } else key += c
        break
      case "preValue":
        if (NEWLINE.includes(c)) {
          const error = push()
          if (error !== undefined) return Either.left(error)
          state = "preKey"
        } else if (c === "'" || c === "\"") {
          state = c === "'" ? "single" : "double"
          quoteLine = line
        } else if (c === "\\") state = "valueEscape"
        else if (!WHITESPACE.includes(c)) {
          state = "value"
          value += c
        }
        break
      case "value":
        if (NEWLINE.includes(c)) {
          if (trailingBlank >= 0) value = value.slice(0, trailingBlank)
          const error = push()
          if (error !== undefined) return Either.left(error)
          state = "preKey"
        } else if (c === "\\") {
          state = "valueEscape"
          trailingBlank = -1
        } else {
          if (!WHITESPACE.includes(c)) trailingBlank = -1
          else if (trailingBlank < 0) trailingBlank = value.length
          value += c
        }
        break
      case "valueEscape":
        // A backslash before a line end continues the line; before anything else it keeps that character.
        state = "value"
        if (!NEWLINE.includes(c)) value += c
        break
      case "single":
        if (c === "'") state = "preValue"
        else value += c
        break
      case "double":
        if (c === "\"") state = "preValue"
        else if (c === "\\") state = "doubleEscape"
        else value += c
        break
      case "doubleEscape":
        state = "double"
        if (DOUBLE_QUOTE_ESCAPED.includes(c)) value += c
        else if (c !== "\n") value += `\\${c}`
        break
      case "comment":
        // systemd ≥ 254: a backslash does not continue a comment onto the next line.
        if (c === "\\") state = "commentEscape"
        else if (NEWLINE.includes(c)) state = "preKey"
        break
      case "commentEscape":
        state = NEWLINE.includes(c) ? "preKey" : "comment"
        break
    }
    if (c === "\n") line++
  }

  switch (state) {
    case "key":
      return Either.left(notAssignment())
    case "single":
    case "double":
      return Either.left(fail(quoteLine, `the ${state === "single" ? "'" : "\""} quote opened on this line is never closed`))
    case "preKey":
    case "comment":
    case "commentEscape":
      return Either.right(assignments)
    default: {
      if (state === "value" && trailingBlank >= 0) value = value.slice(0, trailingBlank)
      const error = push()
      return error === undefined ? Either.right(assignments) : Either.left(error)
    }
  }
}

/**
 * The words of `$VAR` in a unit's `ExecStart=`: split on blanks, quotes (single or double)
 * removed, a backslash keeping the character after it. An unbalanced quote, which systemd lets
 * run to the end, is refused.
 */
export const splitWords = (value: string): Either.Either<ReadonlyArray<string>, string> => {
  const words: Array<string> = []
  let i = 0
  while (i < value.length) {
    while (i < value.length && WHITESPACE.includes(value[i]!)) i++
    if (i === value.length) break
    let word = ""
    let quote: string | undefined
    let escaped = false
    for (; i < value.length; i++) {
      const c = value[i]!
      if (escaped) {
        word += c
        escaped = false
      } else if (c === "\\") escaped = true
      else if (quote !== undefined) {
        if (c === quote) quote = undefined
        else word += c
      } else if (c === "'" || c === "\"") quote = c
      else if (WHITESPACE.includes(c)) break
      else word += c
    }
    if (quote !== undefined) return Either.left(`a ${quote} quote is never closed`)
    words.push(word)
  }
  return Either.right(words)
}

/** The options of an options file's text: none when it does not set CLOUDBACKUP_UPDATER_OPTS. */
export const fromText = (text: string, source: string): Either.Either<Option.Option<FileOptions>, OptionsFileError> =>
  Either.flatMap(parse(text, source), (assignments) => {
    const last = assignments.filter(({ name }) => name === OPTIONS_VARIABLE).at(-1)
    if (last === undefined) return Either.right(Option.none())
    return Either.match(splitWords(last.value), {
      onLeft: (detail) =>
        Either.left(new OptionsFileError({ source, line: Option.some(last.line), detail: `${OPTIONS_VARIABLE}: ${detail}` })),
      onRight: (words) => Either.right(Option.some({ words, source, line: Option.some(last.line) }))
    })
  })

/** A file's text; none when it does not exist. */
export type ReadText = (path: string) => Effect.Effect<Option.Option<string>, OptionsFileError>

export const readText: ReadText = (path) =>
  Effect.try({
    try: () => Option.some(fs.readFileSync(path, "utf8")),
    catch: (error) => error as NodeJS.ErrnoException
  }).pipe(
    Effect.catchAll((error) =>
      error.code === "ENOENT" || error.code === "ENOTDIR"
        ? Effect.succeedNone
        : Effect.fail(
          new OptionsFileError({ source: path, line: Option.none(), detail: `cannot be read (${error.code ?? error.message})` })
        )
    )
  )

/**
 * The options the service runs with: CLOUDBACKUP_UPDATER_OPTS when it is set (the service has
 * loaded the file into it), else those of the file CLOUDBACKUP_UPDATER_OPTIONS_FILE names, else
 * those of the first of the packages' files that exists. None without any.
 */
export const load = (
  env: Readonly<Record<string, string | undefined>>,
  read: ReadText
): Effect.Effect<Option.Option<FileOptions>, OptionsFileError> => {
  const inEnvironment = env[OPTIONS_VARIABLE]
  if (inEnvironment !== undefined) {
    const source = `$${OPTIONS_VARIABLE}`
    return Either.match(splitWords(inEnvironment), {
      onLeft: (detail) => Effect.fail(new OptionsFileError({ source, line: Option.none(), detail })),
      onRight: (words) => Effect.succeedSome({ words, source, line: Option.none() })
    })
  }
  const named = env[FILE_VARIABLE]
  const files = named !== undefined && named !== "" ? [named] : DEFAULT_FILES
  const fromFirst = (rest: ReadonlyArray<string>): Effect.Effect<Option.Option<FileOptions>, OptionsFileError> => {
    const [file, ...others] = rest
    if (file === undefined) return Effect.succeedNone
    return read(file).pipe(
      Effect.flatMap(Option.match({
        onNone: () => fromFirst(others),
        onSome: (text) => Either.match(fromText(text, file), { onLeft: Effect.fail, onRight: Effect.succeed })
      }))
    )
  }
  return fromFirst(files)
}
