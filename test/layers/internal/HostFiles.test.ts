import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  type AtomicWriteFs,
  placeFileAtomically,
  writeFileAtomically,
  writeFileAtomicallyWith
} from "../../../src/layers/internal/HostFiles.js"
import { tempRoot } from "../../support/TempRoot.js"

const isTemporary = (file: string): boolean => /^\..+\.tmp$/.test(path.basename(file))

/**
 * The real file system, recording what the writer does: `temp` for its
 * temporary file, `dir` for a directory, else the file's name. `fail` makes
 * one step fail the way a full or broken disk would.
 */
const recording = (fail?: "write" | "sync" | "rename") => {
  const events: Array<string> = []
  const label = (file: string, isDirectory: boolean) =>
    isDirectory ? "dir" : isTemporary(file) ? "temp" : path.basename(file)
  const failure = (code: string) => Object.assign(new Error(`${code}: simulated failure`), { code })
  const files: AtomicWriteFs = {
    open: async (file, flags, mode) => {
      const handle = await fs.open(file, flags, mode)
      const name = label(file, (await handle.stat()).isDirectory())
      events.push(`open ${name}`)
      const writeFile = handle.writeFile.bind(handle)
      const sync = handle.sync.bind(handle)
      handle.writeFile = async (data, options) => {
        events.push(`write ${name}`)
        await writeFile(data, options)
        if (fail === "write") throw failure("ENOSPC")
      }
      handle.sync = async () => {
        events.push(`sync ${name}`)
        if (fail === "sync" && name === "temp") throw failure("EIO")
        return sync()
      }
      return handle
    },
    rename: async (from, to) => {
      events.push(`rename ${label(from, false)} ${label(to, false)}`)
      expect(path.dirname(from)).toBe(path.dirname(to))
      if (fail === "rename") throw failure("EIO")
      await fs.rename(from, to)
    },
    rm: (file, options) => fs.rm(file, options)
  }
  return { events, files }
}

describe("writeFileAtomically", () => {
  it.scoped("syncs the new content before renaming it over the file, then syncs the directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      const file = path.join(dir, "driveclient.list")
      yield* Effect.promise(() => fs.writeFile(file, "old\n"))
      const { events, files } = recording()
      yield* writeFileAtomicallyWith(files)(file, "new\n", 0o644)
      expect(events).toEqual([
        "open temp",
        "write temp",
        "sync temp",
        "rename temp driveclient.list",
        "open dir",
        "sync dir"
      ])
      expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe("new\n")
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["driveclient.list"])
    }))

  it.scoped("gives the file exactly its mode, whatever the umask", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      const file = path.join(dir, "drivesrvr.repo")
      const umask = process.umask(0o077)
      yield* writeFileAtomically(file, "[drivesrvr]\n", 0o644).pipe(Effect.ensuring(Effect.sync(() => process.umask(umask))))
      expect((yield* Effect.promise(() => fs.stat(file))).mode & 0o7777).toBe(0o644)
    }))

  for (const step of ["write", "sync", "rename"] as const) {
    it.scoped(`leaves the old file and no temporary file when the ${step} fails`, () =>
      Effect.gen(function*() {
        const dir = yield* tempRoot
        const file = path.join(dir, "driveclient.list")
        yield* Effect.promise(() => fs.writeFile(file, "old\n"))
        const error = yield* Effect.flip(writeFileAtomicallyWith(recording(step).files)(file, "new\n", 0o644))
        expect(error).toMatchObject({ _tag: "HostFileError", path: file, operation: "write" })
        expect(error.message).toContain("simulated failure")
        expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe("old\n")
        expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["driveclient.list"])
      }))
  }

  it.scoped("fails with the cause, not a cleanup error, where the directory cannot exist", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      // A file where the directory should be stops even root, which a read-only mode would not.
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "sources.list.d"), "not a directory\n"))
      const file = path.join(dir, "sources.list.d", "driveclient.list")
      const error = yield* Effect.flip(writeFileAtomically(file, "new\n", 0o644))
      expect(error.message).toBe(`cannot write ${file}: not a directory`)
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["sources.list.d"])
      expect(yield* Effect.promise(() => fs.readFile(path.join(dir, "sources.list.d"), "utf8"))).toBe("not a directory\n")
    }))
})

describe("placeFileAtomically", () => {
  const failure = (error: unknown) => ({ _tag: "Failed" as const, detail: String(error) })

  it.scoped("renames what was made at the staging path over the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      const file = path.join(dir, "driveclient_1.1.0-1_amd64.deb")
      const staging = `${file}.partial`
      yield* Effect.promise(() => fs.writeFile(file, "old"))
      yield* placeFileAtomically({ file, staging, make: Effect.promise(() => fs.writeFile(staging, "new")), onFailure: failure })
      expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe("new")
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["driveclient_1.1.0-1_amd64.deb"])
    }))

  it.scoped("a failing make leaves the old file and no staging file, with make's own error", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      const file = path.join(dir, "driveclient_1.1.0-1_amd64.deb")
      const staging = `${file}.partial`
      yield* Effect.promise(() => fs.writeFile(file, "old"))
      const make = Effect.zipRight(
        Effect.promise(() => fs.writeFile(staging, "half")),
        Effect.fail({ _tag: "Failed" as const, detail: "no space left on device" })
      )
      const error = yield* Effect.flip(placeFileAtomically({ file, staging, make, onFailure: failure }))
      expect(error.detail).toBe("no space left on device")
      expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe("old")
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["driveclient_1.1.0-1_amd64.deb"])
    }))

  it.scoped("a make that made nothing fails through onFailure, and changes nothing", () =>
    Effect.gen(function*() {
      const dir = yield* tempRoot
      const file = path.join(dir, "driveclient_1.1.0-1_amd64.deb")
      const error = yield* Effect.flip(placeFileAtomically({ file, staging: `${file}.partial`, make: Effect.void, onFailure: failure }))
      expect(error.detail).toContain("ENOENT")
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual([])
    }))
})
