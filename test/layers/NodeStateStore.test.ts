import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type { AtomicWriteFs } from "../../src/layers/internal/HostFiles.js"
import * as NodeStateStore from "../../src/layers/NodeStateStore.js"
import type { UpdaterState } from "../../src/services/StateStore.js"
import { tempRoot } from "../support/TempRoot.js"

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** A state directory in a throwaway root, and its state file's path. */
const stateDir = Effect.map(tempRoot, (root) => {
  const dir = path.join(root, "var/lib/cloudbackup-updater")
  return { dir, file: path.join(dir, "state.json") }
})

const writeText = (file: string, text: string) =>
  Effect.promise(async () => {
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, text)
  })

const readText = (file: string) => Effect.promise(() => fs.readFile(file, "utf8"))
const list = (dir: string) => Effect.promise(() => fs.readdir(dir).then((names) => names.sort()))

const fullState: UpdaterState = {
  plannedUpgrade: { version: "1.2.0", at: 1_700_000_000_000 },
  failedVersion: { version: "1.1.5", at: 1_690_000_000_000, reason: "it did not stay running after the upgrade" },
  lastCheck: { at: 1_700_000_100_000, result: "up to date" },
  lastError: { at: 1_700_000_200_000, message: "cannot reach the repository" },
  journal: {
    pid: 4242,
    step: "stop",
    previous: "1.1.0-1",
    target: "1.2.0-1",
    agentWasRunning: true,
    holdsAgentLock: true,
    secured: { source: "rebuilt", file: "/var/lib/cloudbackup-updater/packages/driveclient_1.1.0-1_amd64.deb" }
  },
  notBefore: { at: 1_700_000_300_000, reason: "https://agentrepo.example/version.txt: HTTP status 429" }
}

describe("NodeStateStore", () => {
  it.scoped("a missing file is an empty state, not a damaged one", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      const logs = captureLogs()
      expect(yield* NodeStateStore.make(file).get.pipe(Effect.provide(logs.layer))).toEqual({})
      expect(logs.lines).toEqual([])
      expect(yield* Effect.promise(() => fs.access(dir).then(() => true, () => false))).toBe(false)
    }))

  it.scoped("saves and reads back every field, the secured package of the journal included", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      const store = NodeStateStore.make(file)
      yield* store.update(() => fullState)
      expect(yield* store.get).toEqual(fullState)
      expect(JSON.parse(yield* readText(file))).toEqual(fullState)
      expect((yield* Effect.promise(() => fs.stat(file))).mode & 0o7777).toBe(0o644)
      expect(yield* list(dir)).toEqual(["state.json"])
      yield* store.update(({ journal: _, ...state }) => state)
      const { journal: _, ...withoutJournal } = fullState
      expect(yield* store.get).toEqual(withoutJournal)
    }))

  it.scoped("ignores fields it does not know, at any depth, and keeps the file", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* writeText(
        file,
        JSON.stringify({
          plannedUpgrade: { version: "1.2.0", at: 5, channel: "beta" },
          journal: { ...fullState.journal, attempt: 2, secured: { source: "cache", file: "/x.deb", sha256: "ab" } },
          writtenBy: "cloudbackup-updater 3.0.0"
        })
      )
      const logs = captureLogs()
      const state = yield* NodeStateStore.make(file).get.pipe(Effect.provide(logs.layer))
      expect(state).toEqual({
        plannedUpgrade: { version: "1.2.0", at: 5 },
        journal: { ...fullState.journal, secured: { source: "cache", file: "/x.deb" } }
      })
      expect(logs.lines).toEqual([])
      expect(yield* list(dir)).toEqual(["state.json"])
    }))

  const damagedFiles: ReadonlyArray<readonly [string, string, string]> = [
    ["an empty file", "", "the file is empty"],
    ["a file truncated by a power loss", JSON.stringify(fullState, null, 2).slice(0, 120), "not valid JSON: "],
    ["a file of zero bytes", "\0".repeat(64), "not valid JSON: "],
    ["garbage", "<html>502 Bad Gateway</html>\n", "not valid JSON: "],
    ["JSON that is not an object", "[]\n", "Expected UpdaterState, actual []"],
    [
      "a journal with an unknown step",
      JSON.stringify({ journal: { ...fullState.journal, step: "jump" } }),
      `journal.step: Expected "secure" | "download" | "lock" | "stop" | "transaction" | "start" | "health-check" | "rollback", actual "jump"`
    ],
    [
      "a journal without its pid",
      JSON.stringify({ lastCheck: fullState.lastCheck, journal: { ...fullState.journal, pid: undefined } }),
      "journal.pid: is missing"
    ],
    [
      "a secured package from an unknown source",
      JSON.stringify({ journal: { ...fullState.journal, secured: { source: "usb", file: "/x.deb" } } }),
      `journal.secured.source: Expected "kept" | "repository" | "cache" | "rebuilt", actual "usb"`
    ],
    [
      "a not-before time that is not a number",
      JSON.stringify({ notBefore: { at: "tomorrow", reason: "HTTP status 429" } }),
      `notBefore.at: Expected number, actual "tomorrow"`
    ]
  ]

  for (const [what, text, detail] of damagedFiles) {
    it.scoped(`${what} is reported as damaged, and moved aside with a warning by the first change`, () =>
      Effect.gen(function*() {
        const { dir, file } = yield* stateDir
        yield* writeText(file, text)
        const logs = captureLogs()
        const store = NodeStateStore.make(file)
        const state = yield* store.get.pipe(Effect.provide(logs.layer))
        const movedTo = `${file}.damaged`
        expect(state).toEqual({ damaged: { detail: expect.stringContaining(detail), movedTo } })
        expect(state.damaged?.detail).not.toMatch(/[\u0000-\u001f]/)
        // Reading changes nothing (status and dry runs read too): it is reported until a change.
        expect(yield* store.get).toEqual(state)
        expect(yield* list(dir)).toEqual(["state.json"])
        expect(logs.lines).toEqual([])

        yield* store.update((s) => s).pipe(Effect.provide(logs.layer))
        expect(logs.lines).toEqual([`WARN the updater's state ${file} is damaged (${state.damaged?.detail}); moved it to ${movedTo}`])
        expect(yield* list(dir)).toEqual(["state.json", "state.json.damaged"])
        expect(yield* readText(movedTo)).toBe(text)
        expect(yield* store.get).toEqual({})
      }))
  }

  it.scoped("a damaged file replaces the one an earlier damage left", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* writeText(`${file}.damaged`, "older\n")
      yield* writeText(file, "{")
      const store = NodeStateStore.make(file)
      expect((yield* store.get).damaged?.movedTo).toBe(`${file}.damaged`)
      yield* store.update((s) => s)
      expect(yield* readText(`${file}.damaged`)).toBe("{")
      expect(yield* list(dir)).toEqual(["state.json", "state.json.damaged"])
    }))

  it.scoped("a file that cannot be read is damaged and left where it is, and no change is written over it", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* Effect.promise(() => fs.mkdir(file, { recursive: true }))
      const store = NodeStateStore.make(file)
      const state = yield* store.get
      expect(state).toEqual({ damaged: { detail: "cannot read it: EISDIR", movedTo: undefined } })
      const error = yield* Effect.flip(store.update((s) => ({ ...s, lastCheck: { at: 1, result: "x" } })))
      expect(error.message).toBe(`cannot save the updater's state in ${file}: cannot read it: EISDIR`)
      expect(yield* list(dir)).toEqual(["state.json"])
    }))

  it.scoped("update on a damaged file starts from an empty state and never saves the damage", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* writeText(file, "")
      const store = NodeStateStore.make(file)
      const seen: Array<UpdaterState> = []
      yield* store.update((state) => {
        seen.push(state)
        return { ...state, lastCheck: { at: 1, result: "up to date" }, damaged: { detail: "x", movedTo: undefined } }
      })
      expect(seen).toEqual([{}])
      expect(JSON.parse(yield* readText(file))).toEqual({ lastCheck: { at: 1, result: "up to date" } })
      expect(yield* list(dir)).toEqual(["state.json", "state.json.damaged"])
    }))

  it.scoped("update syncs the new state to disk before it replaces the file, and the directory after", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* NodeStateStore.make(file).update(() => ({ lastCheck: { at: 1, result: "up to date" } }))
      const events: Array<string> = []
      const files: AtomicWriteFs = {
        open: async (target, flags, mode) => {
          const handle = await fs.open(target, flags, mode)
          const name = target === dir ? "dir" : path.dirname(target) === dir && target !== file ? "temp" : target
          const sync = handle.sync.bind(handle)
          handle.sync = () => {
            events.push(`sync ${name}`)
            return sync()
          }
          return handle
        },
        rename: async (from, to) => {
          events.push(`rename ${path.dirname(from) === dir ? "temp" : from} ${to === file ? "state.json" : to}`)
          await fs.rename(from, to)
        },
        rm: (target, options) => fs.rm(target, options)
      }
      yield* NodeStateStore.make(file, files).update((state) => ({ ...state, journal: fullState.journal }))
      expect(events).toEqual(["sync temp", "rename temp state.json", "sync dir"])
      expect(yield* NodeStateStore.make(file).get).toEqual({
        lastCheck: { at: 1, result: "up to date" },
        journal: fullState.journal
      })
      expect(yield* list(dir)).toEqual(["state.json"])
    }))

  it.scoped("a failed update leaves the saved state and no temporary file", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      yield* NodeStateStore.make(file).update(() => ({ lastCheck: { at: 1, result: "up to date" } }))
      const before = yield* readText(file)
      const files: AtomicWriteFs = {
        open: (target, flags, mode) => fs.open(target, flags, mode),
        rename: () => Promise.reject(Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" })),
        rm: (target, options) => fs.rm(target, options)
      }
      const error = yield* Effect.flip(NodeStateStore.make(file, files).update(() => fullState))
      expect(error._tag).toBe("StateStoreError")
      expect(error.message).toBe(`cannot save the updater's state in ${file}: cannot write ${file}: i/o error`)
      expect(yield* readText(file)).toBe(before)
      expect(yield* list(dir)).toEqual(["state.json"])
    }))

  it.scoped("no state can be where the state directory cannot be created, and update says why", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* stateDir
      // A file in place of the directory stops even root, which a read-only mode would not.
      yield* writeText(dir, "not a directory\n")
      expect(yield* NodeStateStore.make(file).get).toEqual({})
      const error = yield* Effect.flip(NodeStateStore.make(file).update(() => fullState))
      expect(error.message).toMatch(new RegExp(`^cannot save the updater's state in ${file}: cannot create directory ${dir}: `))
      expect(yield* readText(dir)).toBe("not a directory\n")
      expect(yield* list(path.dirname(dir))).toEqual(["cloudbackup-updater"])
    }))
})
