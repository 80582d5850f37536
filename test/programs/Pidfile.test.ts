import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFileLock from "../../src/layers/NodeFileLock.js"
import * as Pidfile from "../../src/programs/Pidfile.js"
import { FileLock } from "../../src/services/FileLock.js"
import { killChildren, liveProcess as liveUpdater } from "../support/LockTesting.js"

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
  killChildren()
})

const directory = () => fs.mkdtempSync(path.join(os.tmpdir(), "pidfile-test-"))

/** A live process whose command line is `node <dir>/<script>`. */
const liveProcess = (script: string) => {
  const file = path.join(directory(), script)
  fs.writeFileSync(file, "setInterval(() => {}, 1000)\n")
  const child = spawn(process.execPath, [file], { stdio: "ignore" })
  children.push(child)
  return child.pid!
}

const claimIn = (pidfile: string) => Pidfile.claim(pidfile).pipe(Effect.scoped, Effect.provide(NodeFileLock.layer))

describe("Pidfile.claim on the real process table", () => {
  it.effect("writes the daemon's pid and removes the file when the daemon ends", () =>
    Effect.gen(function*() {
      const pidfile = path.join(directory(), "updater.pid")
      const seen = yield* Pidfile.claim(pidfile).pipe(
        Effect.zipRight(Effect.sync(() => fs.readFileSync(pidfile, "utf8"))),
        Effect.scoped,
        Effect.provide(NodeFileLock.layer)
      )
      expect(seen).toBe(`${process.pid}\n`)
      expect(fs.existsSync(pidfile)).toBe(false)
    }))

  it.live("a live cloudbackup-updater in the pidfile: already running (pid N)", () =>
    Effect.gen(function*() {
      const pid = liveProcess("cloudbackup-updater.js")
      yield* Effect.sleep("100 millis")
      const pidfile = path.join(directory(), "updater.pid")
      fs.writeFileSync(pidfile, `${pid}\n`)
      const error = yield* Effect.flip(claimIn(pidfile))
      expect(error.message).toBe(`already running (pid ${pid})`)
      expect(fs.readFileSync(pidfile, "utf8")).toBe(`${pid}\n`)
    }))

  it.effect.each([
    ["a pid now used by another program", (): string => `${liveProcess("something-else.js")}\n`],
    ["no pid at all", (): string => "garbage\n"],
    ["an empty file", (): string => ""]
  ] as const)("a pidfile naming %s is reclaimed", ([, content]) =>
    Effect.gen(function*() {
      const pidfile = path.join(directory(), "updater.pid")
      fs.writeFileSync(pidfile, content())
      const seen = yield* Pidfile.claim(pidfile).pipe(
        Effect.zipRight(Effect.sync(() => fs.readFileSync(pidfile, "utf8"))),
        Effect.scoped,
        Effect.provide(NodeFileLock.layer)
      )
      expect(seen).toBe(`${process.pid}\n`)
    }))

  it.live("a pidfile naming the daemon's own pid (left before a crash, the pid given out again) is reclaimed, not exit 3", () =>
    Effect.gen(function*() {
      // The daemon is a live cloudbackup-updater: the pidfile's owner test alone would say one already runs.
      const daemon = liveUpdater("cloudbackup-updater.js")
      yield* daemon.started
      const pidfile = path.join(directory(), "updater.pid")
      fs.writeFileSync(pidfile, `${daemon.pid}\n`)
      const asDaemon = Effect.provideService(FileLock, NodeFileLock.make(daemon.pid))
      const seen = yield* Pidfile.claim(pidfile).pipe(
        Effect.zipRight(Effect.sync(() => fs.readFileSync(pidfile, "utf8"))),
        // Its own pidfile, once claimed, is not claimed twice.
        Effect.zipLeft(Effect.flip(Pidfile.claim(pidfile).pipe(Effect.scoped, asDaemon)).pipe(
          Effect.tap((error) => expect(error.message).toBe(`already running (pid ${daemon.pid})`))
        )),
        Effect.scoped,
        asDaemon
      )
      expect(seen).toBe(`${daemon.pid}\n`)
      expect(fs.existsSync(pidfile)).toBe(false)
    }))
})
