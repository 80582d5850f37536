/**
 * The Console that @effect/cli prints help and usage errors through. It renders
 * with ANSI colours always; here they are dropped when the stream is not a
 * terminal or NO_COLOR is set, and a usage error becomes one line naming the program (with the
 * journal's error priority when stderr is the journal).
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { PRIORITY_ERROR, withPriority } from "../domain/JournalStream.js"

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

export const wantsColor = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

const render = (args: ReadonlyArray<unknown>, plain: boolean, prefix: string) =>
  args.map((arg) => {
    if (typeof arg !== "string") return arg
    const text = `${prefix}${arg.replace(/\s+$/, "")}`
    return plain ? text.replace(ANSI, "") : text
  })

const asError = (journal: boolean) => (arg: unknown) =>
  journal && typeof arg === "string" ? withPriority(PRIORITY_ERROR, arg) : arg

/** `journal`: stderr is the journal's stream. */
export const wrap = (base: Console.Console, journal: boolean = false): Console.Console => {
  const plainOut = !wantsColor(process.stdout)
  const plainErr = !wantsColor(process.stderr)
  return {
    ...base,
    log: (...args) => base.log(...render(args, plainOut, "")),
    error: (...args) => base.error(...render(args, plainErr, "cloudbackup-updater: ").map(asError(journal)))
  }
}

export const withCliConsole = <A, E, R>(effect: Effect.Effect<A, E, R>, journal: boolean = false): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => Effect.withConsole(effect, wrap(base, journal)))
