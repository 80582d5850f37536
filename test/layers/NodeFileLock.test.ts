import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as NodeFileLock from "../../src/layers/NodeFileLock.js"
import { isUpdater } from "../../src/programs/Pidfile.js"
import * as FileLock from "../../src/services/FileLock.js"
import {
  captureLogs,
  deadPid,
  killChildren,
  liveProcess,
  lockForms,
  steppedLocks,
  tempLockPath as tempLock,
  writeLock
} from "../support/LockTesting.js"

afterEach(killChildren)

describe("NodeFileLock", () => {
  it.effect("creates the lock exclusively with the owner's pid, creating its directory", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const locks = NodeFileLock.make(1234)
      yield* locks.tryAcquire(file)
      expect(fs.readFileSync(file, "utf8")).toBe("1234\n")
      const again = yield* Effect.flip(NodeFileLock.make(5678).tryAcquire(file))
      expect(again._tag).toBe("LockHeld")
      expect(again.message).toBe(`${file} is held by pid 1234`)
    }))

  it.effect("release removes only the owner's own lock", () =>
    Effect.gen(function*() {
      const file = tempLock()
      yield* NodeFileLock.make(process.pid).tryAcquire(file)
      yield* NodeFileLock.make(999999).release(file)
      expect(fs.existsSync(file)).toBe(true)
      yield* NodeFileLock.make(process.pid).release(file)
      expect(fs.existsSync(file)).toBe(false)
      yield* NodeFileLock.make(process.pid).release(file)
    }))

  it.effect("reports the holder and whether it lives", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const locks = NodeFileLock.make(process.pid)
      expect(yield* locks.holder(file)).toEqual(Option.none())
      yield* locks.tryAcquire(file)
      const holder = yield* locks.holder(file)
      expect(Option.getOrThrow(holder)).toMatchObject({ pid: process.pid, alive: true })
      const ownCommand = fs.readFileSync("/proc/self/cmdline", "utf8").split("\0").filter(Boolean)
      expect(Option.getOrThrow(holder).command).toEqual(ownCommand)
      fs.writeFileSync(file, `${deadPid()}\n`)
      expect(Option.map(yield* locks.holder(file), (h) => h.alive)).toEqual(Option.some(false))
    }))

  it.effect("breaks a lock whose holder is dead, never a live one's or one without a pid", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const locks = NodeFileLock.make(process.pid)
      yield* locks.tryAcquire(file)
      expect(yield* locks.breakStale(file)).toBe(false)
      fs.writeFileSync(file, "")
      expect(yield* locks.breakStale(file)).toBe(false)
      fs.writeFileSync(file, `${deadPid()}\n`)
      expect(yield* locks.breakStale(file)).toBe(true)
      expect(fs.existsSync(file)).toBe(false)
      expect(fs.readdirSync(path.dirname(file))).toEqual([])
    }))

  it.live("acquireScoped waits for another holder and is woken by the directory watch", () =>
    Effect.gen(function*() {
      const file = tempLock()
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, `${process.ppid}\n`)
      const waits: Array<number | undefined> = []
      const fiber = yield* FileLock.acquireScoped(file, {
        poll: Duration.minutes(10),
        onWait: (pid) => Effect.sync(() => void waits.push(pid))
      }).pipe(Effect.zipRight(Effect.sync(() => fs.readFileSync(file, "utf8"))), Effect.scoped, Effect.provide(NodeFileLock.layer), Effect.fork)
      yield* Effect.sleep(Duration.millis(200))
      expect(waits).toEqual([process.ppid])
      fs.unlinkSync(file)
      const content = yield* Fiber.join(fiber).pipe(Effect.timeout(Duration.seconds(5)))
      expect(content).toBe(`${process.pid}\n`)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.live("other files changing in the lock's directory do not wake the waiter", () =>
    Effect.gen(function*() {
      const file = tempLock()
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, `${process.ppid}\n`)
      const live = NodeFileLock.make(process.pid)
      let attempts = 0
      const counting = { ...live, tryAcquire: (p: string) => Effect.suspend(() => (attempts++, live.tryAcquire(p))) }
      const fiber = yield* FileLock.acquireScoped(file, { poll: Duration.minutes(10), onWait: () => Effect.void }).pipe(
        Effect.scoped,
        Effect.provideService(FileLock.FileLock, counting),
        Effect.fork
      )
      yield* Effect.sleep(Duration.millis(100))
      for (let i = 0; i < 50; i++) {
        const other = path.join(path.dirname(file), `other.${i}`)
        fs.writeFileSync(other, "x")
        fs.unlinkSync(other)
      }
      yield* Effect.sleep(Duration.millis(200))
      expect(attempts).toBe(1)
      fs.unlinkSync(file)
      yield* Fiber.join(fiber).pipe(Effect.timeout(Duration.seconds(5)))
      expect(attempts).toBe(2)
    }))

  it.effect("files a killed process left beside the lock are cleared; a live one's are kept", () =>
    Effect.gen(function*() {
      const file = tempLock()
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const dead = deadPid()
      const litter = [`x.lock.${dead}.new`, `x.lock.stale.${dead}`]
      const kept = [`x.lock.${process.pid}.new`, "x.lock.notes", "other.lock.123.new"]
      for (const name of [...litter, ...kept]) fs.writeFileSync(path.join(path.dirname(file), name), "")
      yield* NodeFileLock.make(4321).tryAcquire(file)
      expect(fs.readdirSync(path.dirname(file)).sort()).toEqual([...kept, "x.lock"].sort())
    }))

  it.effect.each(lockForms)("%s: the holder's pid is read from it, with the lock's mtime and the process's start", ([, form]) =>
    Effect.gen(function*() {
      const file = tempLock()
      const sleeper = liveProcess()
      writeLock(file, form(sleeper.pid), 1_714_521_600_000)
      const holder = Option.getOrThrow(yield* NodeFileLock.make(process.pid).holder(file))
      expect(holder).toMatchObject({ pid: sleeper.pid, alive: true, modifiedAt: 1_714_521_600_000 })
      expect(holder.startedAt).toBeGreaterThan(1_714_521_600_000)
    }))

  it.effect.each(lockForms)("%s: stale when the pid is dead, not while it lives", ([, form]) =>
    Effect.gen(function*() {
      const file = tempLock()
      const locks = NodeFileLock.make(process.pid)
      const sleeper = liveProcess()
      writeLock(file, form(sleeper.pid))
      expect(yield* locks.breakStale(file)).toBe(false)
      expect(fs.readFileSync(file, "utf8")).toBe(form(sleeper.pid))
      writeLock(file, form(deadPid()))
      expect(yield* locks.breakStale(file)).toBe(true)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.effect("a lock naming this process's pid that it did not take is a dead process's: replaced, with a warning", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const logs = captureLogs()
      const locks = NodeFileLock.make(process.pid)
      writeLock(file, `pid=${process.pid}\n`)
      expect(Option.map(yield* locks.holder(file), (h) => h.alive)).toEqual(Option.some(false))
      yield* locks.tryAcquire(file).pipe(Effect.provide(logs.layer))
      expect(fs.readFileSync(file, "utf8")).toBe(`${process.pid}\n`)
      expect(logs.lines).toEqual([
        `WARN removed the stale lock ${file}: it named this process's own pid ${process.pid}, left by an earlier process with that pid`
      ])
      expect(Option.map(yield* locks.holder(file), (h) => h.alive)).toEqual(Option.some(true))
      yield* locks.release(file)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.effect("breakStale removes a lock naming this process's pid that it did not take, whatever `owns` says", () =>
    Effect.gen(function*() {
      const file = tempLock()
      writeLock(file, `${process.pid}\n`)
      expect(yield* NodeFileLock.make(process.pid).breakStale(file, () => true)).toBe(true)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.effect("a lock this process took stays its own: not taken again, never broken, removed on release", () =>
    Effect.gen(function*() {
      const file = tempLock()
      yield* NodeFileLock.make(process.pid).tryAcquire(file)
      const again = yield* Effect.flip(NodeFileLock.make(process.pid).tryAcquire(file))
      expect(again).toMatchObject({ _tag: "LockHeld", pid: process.pid })
      expect(yield* NodeFileLock.make(process.pid).breakStale(file, () => false)).toBe(false)
      expect(fs.readFileSync(file, "utf8")).toBe(`${process.pid}\n`)
      yield* NodeFileLock.make(process.pid).release(file)
      expect(fs.existsSync(file)).toBe(false)
    }))

  it.live("own pid in the pass lock (an updater's, after a crash): taken at once, not waited for", () =>
    Effect.gen(function*() {
      const file = tempLock()
      // This process is a cloudbackup-updater, so the pass lock's owner test alone would say the lock is held.
      const self = liveProcess("cloudbackup-updater.js")
      yield* self.started
      writeLock(file, `${self.pid}\n`)
      const { locks, waits } = yield* steppedLocks(NodeFileLock.make(self.pid))
      const outcome = yield* Effect.raceFirst(
        FileLock.acquireScoped(file, { poll: Duration.minutes(10), owns: isUpdater, onWait: () => Effect.void }).pipe(
          Effect.zipRight(Effect.sync(() => fs.readFileSync(file, "utf8"))),
          Effect.scoped,
          Effect.provideService(FileLock.FileLock, locks)
        ),
        Effect.as(Queue.take(waits), "waited")
      )
      expect(outcome).toBe(`${self.pid}\n`)
      expect(fs.existsSync(file)).toBe(false)
    }))
})

describe("NodeFileLock.awaitChange on a dangling symlink in the lock's place", () => {
  it.live("waits for the poll instead of returning at once", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lock-symlink-"))
      const file = path.join(dir, "backup-running.lock")
      fs.symlinkSync(path.join(dir, "gone"), file)
      const locks = NodeFileLock.make(process.pid)
      const outcome = yield* Effect.race(
        Effect.as(locks.awaitChange(file, Duration.seconds(30)), "returned"),
        Effect.as(Effect.sleep(Duration.millis(300)), "still waiting")
      )
      fs.rmSync(dir, { recursive: true, force: true })
      expect(outcome).toBe("still waiting")
    }))
})

/**
 * The wait for a held lock wakes on its release, not on the poll: the poll period is the bound
 * (a release noticed only by the poll would come after it), never a wall-clock threshold of its own.
 */
describe("NodeFileLock.awaitChange wakes on the lock's release", () => {
  const POLL = Duration.seconds(5)

  it.live("a release during the wait ends it before the poll would have", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      const locks = NodeFileLock.make(process.pid)
      const wait = yield* Effect.fork(locks.awaitChange(file, POLL))
      yield* Effect.sleep(Duration.millis(20))
      fs.unlinkSync(file)
      const outcome = yield* Effect.race(
        Effect.as(Fiber.join(wait), "noticed the release"),
        Effect.as(Effect.sleep(POLL), "the poll would have fired")
      )
      expect(outcome).toBe("noticed the release")
    }))

  it.live("a change to another file of the directory does not end it; the lock's own does", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      const locks = NodeFileLock.make(process.pid)
      const wait = yield* Effect.fork(locks.awaitChange(file, POLL))
      yield* Effect.sleep(Duration.millis(20))
      fs.writeFileSync(path.join(path.dirname(file), "other"), "x")
      yield* Effect.sleep(Duration.millis(50))
      expect(Option.isNone(yield* wait.poll)).toBe(true)
      fs.unlinkSync(file)
      const outcome = yield* Effect.race(
        Effect.as(Fiber.join(wait), "noticed the release"),
        Effect.as(Effect.sleep(POLL), "the poll would have fired")
      )
      expect(outcome).toBe("noticed the release")
    }))

  it.live("the poll still ends the wait when no change comes", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      yield* NodeFileLock.make(process.pid).awaitChange(file, Duration.millis(50))
      expect(fs.existsSync(file)).toBe(true)
    }))

  it.live("it is interruptible", () =>
    Effect.gen(function*() {
      const file = tempLock()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      const wait = yield* Effect.fork(NodeFileLock.make(process.pid).awaitChange(file, Duration.minutes(10)))
      yield* Effect.sleep(Duration.millis(20))
      yield* Fiber.interrupt(wait)
      expect(fs.existsSync(file)).toBe(true)
    }))
})
