import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as MemoryFileLock from "../../src/layers/MemoryFileLock.js"

const OWN = 5151
const OTHER = 4242
const LOCK = "/var/cache/driveclient/backup-running.lock"

const make = MemoryFileLock.make({
  ownPid: OWN,
  livePids: (pid) => pid === OWN || pid === OTHER,
  startedAtOf: (pid) => (pid === OTHER ? 1_000 : undefined)
})

describe("MemoryFileLock", () => {
  it.effect("a holder carries when its lock was written and when its process started", () =>
    Effect.gen(function*() {
      const locks = yield* make
      yield* TestClock.adjust(60_000)
      yield* locks.holdAs(LOCK, OTHER)
      expect(yield* locks.holder(LOCK)).toEqual(
        Option.some({ pid: OTHER, alive: true, command: ["node", "/usr/bin/cloudbackup-updater"], modifiedAt: 60_000, startedAt: 1_000 })
      )
      yield* locks.holdAs(LOCK, OTHER, 5)
      expect(Option.map(yield* locks.holder(LOCK), (h) => h.modifiedAt)).toEqual(Option.some(5))
    }))

  it.effect("a lock under its own pid that it did not take is an earlier process's: taken over, and stale", () =>
    Effect.gen(function*() {
      const locks = yield* make
      yield* locks.holdAs(LOCK, OWN)
      yield* locks.tryAcquire(LOCK)
      expect((yield* locks.held).get(LOCK)).toBe(OWN)
      yield* locks.holdAs(LOCK, OWN)
      expect(yield* locks.breakStale(LOCK, () => true)).toBe(true)
    }))

  it.effect("a lock it took is its own: not taken twice, never stale, released", () =>
    Effect.gen(function*() {
      const locks = yield* make
      yield* locks.tryAcquire(LOCK)
      expect(yield* Effect.flip(locks.tryAcquire(LOCK))).toMatchObject({ _tag: "LockHeld", pid: OWN })
      expect(yield* locks.breakStale(LOCK, () => false)).toBe(false)
      yield* locks.release(LOCK)
      expect((yield* locks.held).has(LOCK)).toBe(false)
    }))
})
