/**
 * How the fake host recognises a command line: a table per tool family, each
 * entry an argument vector from ExpectedCommands (with `HOLE` where any value
 * goes) and what the host does for it. A program a table owns but no entry
 * matches gets that tool's own complaint; a program no table owns exits 127.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Ref from "effect/Ref"
import type { HostModel } from "../../../src/layers/simulated/HostModel.js"
import type { CommandResult, RunOptions, ShellError } from "../../../src/services/Shell.js"
import { type Argv, HOLE } from "../ExpectedCommands.js"
import type { PackageFiles } from "./PackageFiles.js"

/** What a command can reach: the host, its package files, and the Clock time commands take. */
export interface FakeHostContext {
  readonly model: HostModel
  readonly files: PackageFiles
  /** What an init script's `status` exits with, whatever the agent does; by default 0 or 3. */
  readonly lsbStatus: Effect.Effect<number | undefined>
  readonly downloadTime: Effect.Effect<Duration.DurationInput>
  readonly transactionTime: Effect.Effect<Duration.DurationInput>
  /** apt: the key the agent repository is signed with (FakeHostInit.aptRepositoryKey). */
  readonly aptRepositoryKey: string | undefined
  /** zypper: the key the agent repository is signed with (FakeHostInit.rpmRepositoryKey). */
  readonly rpmRepositoryKey: string | undefined
  /** The content of every key file `rpm --import`ed, in order. */
  readonly rpmImportedKeys: Ref.Ref<ReadonlyArray<string>>
}

export interface Call {
  readonly argv: Argv
  readonly options: RunOptions
  /** The values in the pattern's holes, in order. */
  readonly holes: ReadonlyArray<string>
  readonly host: FakeHostContext
  /** Takes that much Clock time, like the real tool; past the Shell timeout the command is killed. */
  readonly takes: (time: Effect.Effect<Duration.DurationInput>) => Effect.Effect<void, ShellError>
}

export type Answer = Effect.Effect<CommandResult, ShellError>

export interface CommandEntry {
  readonly pattern: Argv
  readonly run: (call: Call) => Answer
}

export interface CommandTable {
  /** The programs this table answers for. */
  readonly programs: ReadonlyArray<string>
  readonly entries: ReadonlyArray<CommandEntry>
  /** The tool's answer to a command line it was not made for. */
  readonly notUnderstood: (argv: Argv) => CommandResult
}

export const result = (exitCode: number, stdout = "", stderr = ""): CommandResult => ({ exitCode, stdout, stderr })

export const entry = (pattern: Argv, run: (call: Call) => Answer): CommandEntry => ({ pattern, run })

/** The same answer for several patterns. */
export const entries = (patterns: ReadonlyArray<Argv>, run: (call: Call) => Answer): ReadonlyArray<CommandEntry> =>
  patterns.map((pattern) => entry(pattern, run))

/** The holes' values when `argv` fits `pattern`: each argument equal, or around a hole its text equal and the hole not empty. */
export const match = (pattern: Argv, argv: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  if (pattern.length !== argv.length) return undefined
  const holes: Array<string> = []
  for (const [i, expected] of pattern.entries()) {
    const actual = argv[i]!
    const at = expected.indexOf(HOLE)
    if (at < 0) {
      if (actual !== expected) return undefined
      continue
    }
    const [prefix, suffix] = [expected.slice(0, at), expected.slice(at + HOLE.length)]
    if (actual.length <= prefix.length + suffix.length || !actual.startsWith(prefix) || !actual.endsWith(suffix)) return undefined
    holes.push(actual.slice(prefix.length, actual.length - suffix.length))
  }
  return holes
}

export const notFound = (argv: ReadonlyArray<string>): CommandResult =>
  result(127, "", `fake shell: no such command: ${argv.join(" ")}\n`)

/** The entry of `tables` that answers `argv`, with its holes' values; else the owning tool's complaint, else 127. */
export const lookUp = (
  tables: ReadonlyArray<CommandTable>,
  argv: Argv
): { readonly entry: CommandEntry; readonly holes: ReadonlyArray<string> } | CommandResult => {
  for (const table of tables) {
    for (const candidate of table.entries) {
      const holes = match(candidate.pattern, argv)
      if (holes !== undefined) return { entry: candidate, holes }
    }
  }
  const owner = tables.find((table) => table.programs.includes(argv[0]))
  return owner === undefined ? notFound(argv) : owner.notUnderstood(argv)
}

export const succeed = (answer: CommandResult): Answer => Effect.succeed(answer)
