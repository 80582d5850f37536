/** StateStore in a JSON file under the state directory, replaced atomically and durably on each change. */
import type { Stats } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  StateStore,
  StateStoreError,
  type StateStoreShape,
  StoredState,
  type UpdaterState
} from "../services/StateStore.js"
import { STATE_DIR } from "../services/UpdaterConfig.js"
import { type AtomicWriteFs, type HostFileError, makeDirectory, writeFileAtomicallyWith } from "./internal/HostFiles.js"

export const STATE_FILE = `${STATE_DIR}/state.json`

/** Where a damaged state file is moved aside to, replacing one moved there before. */
export const damagedStateFile = (file: string): string => `${file}.damaged`

const decodeStored = Schema.decodeUnknownEither(StoredState)
const encodeStored = Schema.encodeEither(StoredState)

/** JSON.parse quotes the text it failed on, which may hold NULs or newlines that do not belong in a log line. */
const escapeControls = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** The first thing wrong, e.g. `journal.step: Expected "secure" | …, actual "jump"`. */
const describeIssue = (error: ParseResult.ParseError): string => {
  const [first] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (first === undefined) return error.message
  return first.path.length === 0 ? first.message : `${first.path.join(".")}: ${first.message}`
}

const decodeText = (text: string): Either.Either<StoredState, string> => {
  if (text.trim() === "") return Either.left(text === "" ? "the file is empty" : "the file holds only white space")
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(`not valid JSON: ${escapeControls(error instanceof Error ? error.message : String(error))}`)
  }
  return Either.mapLeft(decodeStored(json), describeIssue)
}

const describeError = (error: unknown): string =>
  (error as NodeJS.ErrnoException | undefined)?.code ?? (error instanceof Error ? error.message : String(error))

type Found =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unreadable"; readonly detail: string }
  | { readonly _tag: "Text"; readonly text: string; readonly stats: Stats }

const readFile = (file: string): Promise<Found> =>
  fs.open(file, "r").then(
    async (handle) => {
      try {
        const stats = await handle.stat()
        return { _tag: "Text", text: await handle.readFile("utf8"), stats } as const
      } catch (error) {
        return { _tag: "Unreadable", detail: `cannot read it: ${describeError(error)}` } as const
      } finally {
        await handle.close().catch(() => undefined)
      }
    },
    (error) =>
      // With a file in place of its directory, no state can have been saved there.
      ["ENOENT", "ENOTDIR"].includes((error as NodeJS.ErrnoException).code ?? "")
        ? { _tag: "Missing" } as const
        : { _tag: "Unreadable", detail: `cannot read it: ${describeError(error)}` } as const
  )

type MoveAside =
  | { readonly _tag: "Moved"; readonly to: string }
  | { readonly _tag: "Replaced" }
  | { readonly _tag: "Failed"; readonly detail: string }

/**
 * Moves the damaged file aside, unless another updater has saved a new state
 * over it since it was read. One that has only moved it aside itself has saved
 * nothing: the damage is still reported.
 */
const moveAside = async (file: string, read: Stats): Promise<MoveAside> => {
  const to = damagedStateFile(file)
  try {
    const now = await fs.stat(file)
    if (now.ino !== read.ino || now.dev !== read.dev) return { _tag: "Replaced" }
    await fs.rename(file, to)
    return { _tag: "Moved", to }
  } catch (error) {
    return { _tag: "Failed", detail: describeError(error) }
  }
}

const saveError = (file: string) => (error: HostFileError) => new StateStoreError({ path: file, detail: error.message })

type Read =
  | { readonly _tag: "State"; readonly state: UpdaterState }
  | { readonly _tag: "Unreadable"; readonly state: UpdaterState; readonly detail: string }
  | { readonly _tag: "Damaged"; readonly state: UpdaterState; readonly stats: Stats }

const read = (file: string): Effect.Effect<Read> =>
  Effect.map(Effect.promise(() => readFile(file)), (found): Read => {
    switch (found._tag) {
      case "Missing":
        return { _tag: "State", state: {} }
      case "Unreadable":
        // The content may be intact: left in place, it is not lost to a passing error.
        return { _tag: "Unreadable", state: { damaged: { detail: found.detail, movedTo: undefined } }, detail: found.detail }
    }
    const decoded = decodeText(found.text)
    return Either.isRight(decoded)
      ? { _tag: "State", state: decoded.right }
      : { _tag: "Damaged", state: { damaged: { detail: decoded.left, movedTo: damagedStateFile(file) } }, stats: found.stats }
  })

/**
 * `files` is what the state file is written with; only tests pass their own.
 *
 * A damaged state file is reported by every read and left in place, so that
 * `status` and a dry run, which change nothing, do not hide it from the next
 * pass; the first change moves it aside, kept for a look, and starts afresh.
 */
export const make = (file: string = STATE_FILE, files: AtomicWriteFs = fs): StateStoreShape => {
  const write = writeFileAtomicallyWith(files)
  const setAside = (damaged: Extract<Read, { _tag: "Damaged" }>): Effect.Effect<void> =>
    Effect.flatMap(Effect.promise(() => moveAside(file, damaged.stats)), (moved) => {
      const detail = damaged.state.damaged!.detail
      switch (moved._tag) {
        case "Replaced":
          return Effect.void
        case "Moved":
          return Effect.logWarning(`the updater's state ${file} is damaged (${detail}); moved it to ${moved.to}`)
        case "Failed":
          return Effect.logWarning(`the updater's state ${file} is damaged (${detail}); cannot move it aside: ${moved.detail}`)
      }
    })
  return {
    get: Effect.map(read(file), (found) => found.state),
    update: (f) =>
      Effect.gen(function*() {
        const found = yield* read(file)
        // Written over, a file that could not be read now (but may be intact) would be lost.
        if (found._tag === "Unreadable") return yield* new StateStoreError({ path: file, detail: found.detail })
        if (found._tag === "Damaged") yield* setAside(found)
        const { damaged: _, ...state } = found._tag === "Damaged" ? {} as UpdaterState : found.state
        // Encoding keeps only the file's own fields: `damaged` is never saved.
        const stored = yield* Either.mapLeft(
          encodeStored(f(state)),
          (error) => new StateStoreError({ path: file, detail: describeIssue(error) })
        )
        yield* Effect.mapError(makeDirectory(path.dirname(file), 0o755), saveError(file))
        yield* Effect.mapError(write(file, `${JSON.stringify(stored, null, 2)}\n`, 0o644), saveError(file))
      })
  }
}

export const layer = (file?: string): Layer.Layer<StateStore> => Layer.sync(StateStore, () => make(file))
