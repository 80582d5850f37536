/**
 * The live inhibitor against a fake `systemd-inhibit` first on PATH: a shell
 * script that records its arguments and pid, then runs the command it was given
 * (`cat`). Nothing privileged runs; logind is never asked for anything.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import { isProcessAlive, processCommandLine } from "../../src/layers/internal/ProcessTable.js"
import * as SystemdShutdownInhibitor from "../../src/layers/SystemdShutdownInhibitor.js"
import { ShutdownInhibitor } from "../../src/services/ShutdownInhibitor.js"
import { tempRoot } from "../support/TempRoot.js"

const WHY = `the backup agent is being upgraded; "quoted" $HOME`

/** A fake systemd-inhibit in a fresh directory; `body` runs after it has recorded its argv and pid. */
const fakeInhibit = (body: string) =>
  Effect.gen(function*() {
    const dir = yield* tempRoot
    const bin = path.join(dir, "bin")
    const script = [
      "#!/bin/sh",
      `printf '%s\\n' "$@" > '${dir}/argv'`,
      `echo $$ > '${dir}/pid'`,
      body,
      ""
    ].join("\n")
    yield* Effect.promise(async () => {
      await fs.mkdir(bin)
      await fs.writeFile(path.join(bin, "systemd-inhibit"), script, { mode: 0o755 })
    })
    const read = (name: string) => Effect.promise(() => fs.readFile(path.join(dir, name), "utf8"))
    return {
      dir,
      searchPath: `${bin}:/usr/bin:/bin`,
      argv: Effect.map(read("argv"), (text) => text.split("\n").slice(0, -1)),
      pid: Effect.map(read("pid"), (text) => Number(text.trim())),
      /** Whether the script has run far enough to have recorded its pid. */
      ran: Effect.promise(() => fs.readFile(path.join(dir, "pid"), "utf8").then((text) => /^\d+\n$/.test(text), () => false))
    }
  })

/** Runs the command line it was given, as systemd-inhibit does once it holds the lock. */
const RUN_COMMAND = `while [ $# -gt 0 ]; do case "$1" in --*) shift ;; *) break ;; esac; done\nexec "$@"`

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const fdTarget = (pid: number, fd: number) => Effect.promise(() => fs.readlink(`/proc/${pid}/fd/${fd}`))

describe("SystemdShutdownInhibitor", () => {
  it.scopedLive("runs systemd-inhibit ... cat with an argument vector, cat runs while held and is gone after", () =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit(RUN_COMMAND)
      const inhibitor = SystemdShutdownInhibitor.make({ searchPath: fake.searchPath })
      const logs = captureLogs()
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        yield* inhibitor.hold(WHY)
        expect(yield* fake.argv).toEqual([
          "--what=shutdown",
          "--who=cloudbackup-updater",
          `--why=${WHY}`,
          "--mode=block",
          "cat"
        ])
        const pid = yield* fake.pid
        expect(isProcessAlive(pid)).toBe(true)
        expect(processCommandLine(pid)).toEqual(["cat"])
        // Its input is a pipe (a socket pair, as Node makes it) from us; its output goes nowhere.
        expect(yield* fdTarget(pid, 0)).toMatch(/^(pipe|socket):/)
        expect(yield* fdTarget(pid, 1)).toBe("/dev/null")
        expect(yield* fdTarget(pid, 2)).toBe("/dev/null")
        return pid
      })).pipe(Effect.provide(logs.layer))
      expect(isProcessAlive(pid)).toBe(false)
      expect(logs.lines.filter((line) => line.startsWith("WARN"))).toEqual([])
    }))

  it.scopedLive("systemd-inhibit not on PATH: a warning, and the hold goes on", () =>
    Effect.gen(function*() {
      const empty = yield* tempRoot
      const logs = captureLogs()
      yield* Effect.scoped(SystemdShutdownInhibitor.make({ searchPath: empty }).hold(WHY)).pipe(Effect.provide(logs.layer))
      expect(logs.lines).toEqual([
        "WARN systemd-inhibit is not on PATH: shutdown is not blocked while the agent is upgraded"
      ])
    }))

  it.scopedLive("systemd-inhibit exiting at once (no logind, no D-Bus): a warning, and the hold goes on", () =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit("echo 'Failed to inhibit: Could not activate remote peer.' >&2\nexit 1")
      const logs = captureLogs()
      yield* Effect.scoped(
        SystemdShutdownInhibitor.make({ searchPath: fake.searchPath, settle: "2 seconds" }).hold(WHY)
      ).pipe(Effect.provide(logs.layer))
      expect(yield* fake.ran).toBe(true)
      expect(logs.lines).toEqual([
        "WARN systemd-inhibit exited with status 1: shutdown is not blocked while the agent is upgraded"
      ])
    }))

  it.scopedLive("one that ends while held is reported", () =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit(RUN_COMMAND)
      const logs = captureLogs()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* SystemdShutdownInhibitor.make({ searchPath: fake.searchPath }).hold(WHY)
        process.kill(yield* fake.pid, "SIGTERM")
        yield* Effect.sleep("500 millis")
      })).pipe(Effect.provide(logs.layer))
      expect(logs.lines).toContain(
        "WARN systemd-inhibit was killed by SIGTERM while the shutdown lock was wanted: shutdown is not blocked while the agent is upgraded"
      )
    }))

  it.scopedLive("one that does not end when its input closes is killed after the grace period", () =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit("trap '' TERM HUP\nexec sleep 60")
      const logs = captureLogs()
      const started = Date.now()
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        yield* SystemdShutdownInhibitor.make({ searchPath: fake.searchPath, killGrace: "300 millis" }).hold(WHY)
        return yield* fake.pid
      })).pipe(Effect.provide(logs.layer))
      expect(Date.now() - started).toBeGreaterThanOrEqual(300)
      expect(isProcessAlive(pid)).toBe(false)
      expect(logs.lines).toEqual([
        "WARN systemd-inhibit still running 300ms after its input was closed; killing it"
      ])
    }))

  it.scopedLive("interrupted while it starts: it is still ended, and nothing is left behind", () =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit(RUN_COMMAND)
      const inhibitor = SystemdShutdownInhibitor.make({ searchPath: fake.searchPath, settle: "2 seconds" })
      const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(inhibitor.hold(WHY), Effect.never)))
      while (!(yield* fake.ran)) yield* Effect.sleep("20 millis")
      const pid = yield* fake.pid
      yield* Fiber.interrupt(fiber)
      expect(isProcessAlive(pid)).toBe(false)
    }))

  it.scopedLive.each([
    ["systemd", true],
    ["sysv", false]
  ] as const)("layerFor(%s) inhibits: %s", ([serviceManager, inhibits]) =>
    Effect.gen(function*() {
      const fake = yield* fakeInhibit(RUN_COMMAND)
      yield* Effect.scoped(Effect.flatMap(ShutdownInhibitor, (inhibitor) => inhibitor.hold(WHY))).pipe(
        Effect.provide(SystemdShutdownInhibitor.layerFor(serviceManager, { searchPath: fake.searchPath }))
      )
      expect(yield* fake.ran).toBe(inhibits)
    }))
})
