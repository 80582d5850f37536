import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { drawDelay } from "../../src/domain/RolloutDelay.js"
import { AGENT_PID, SimulatedHostTag, UPDATER_PID } from "../../src/layers/SimulatedHost.js"
import * as Daemon from "../../src/programs/Daemon.js"
import { StateStore } from "../../src/services/StateStore.js"
import {
  AGENT_LOCK,
  HEALTH_GRACE,
  repositoryFiles,
  type Served,
  simulatedRun,
  throwing,
  tooManyRequests
} from "../support/SimulatedRun.js"

const HOUR = 3_600_000
const PIDFILE = "/run/cloudbackup-updater.pid"
const SEED = "daemon-test"
const options = { pidfile: PIDFILE, interval: Duration.minutes(60), delayUnit: "hours" as const }

const setup = (host: Parameters<typeof simulatedRun>[0], publish?: { version: string }) => {
  const files: Record<string, Served> = repositoryFiles("1.1.0")
  if (publish) files["version.txt"] = { status: 200, body: `${publish.version}\n` }
  const requests: Array<{ path: string; at: number }> = []
  const layer = simulatedRun(host, files, requests)
  return { files, requests, layer }
}

const versionReads = (requests: ReadonlyArray<{ path: string; at: number }>) =>
  requests.filter((r) => r.path === "version.txt").map((r) => r.at / HOUR)

/** The delay the daemon draws first under SEED, computed on its own. */
const firstDelay = Effect.runSync(drawDelay("hours").pipe(Effect.withRandom(Random.make(SEED))))

/**
 * A host's clocks over TestClock, which keeps one instant for wall and monotonic time alike (setTime moves both,
 * and its sleeps end at that instant): here the wall clock is TestClock's plus an offset that `jump` moves by
 * signed ms, while monotonic time and sleeps stay TestClock's. As with the runtime's timer, a sleep over
 * 2^31-1 ms never ends.
 */
const hostClock = Effect.map(TestClock.testClock(), (test) => {
  let wallOffset = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => test.unsafeCurrentTimeMillis() + wallOffset,
    currentTimeMillis: Effect.map(test.currentTimeMillis, (millis) => millis + wallOffset),
    unsafeCurrentTimeNanos: () => test.unsafeCurrentTimeNanos(),
    currentTimeNanos: test.currentTimeNanos,
    sleep: (duration) => (Duration.toMillis(duration) > 2 ** 31 - 1 ? Effect.never : test.sleep(duration))
  }
  return { clock, jump: (millis: number) => Effect.sync(() => void (wallOffset += millis)) }
})

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("daemon", () => {
  it.effect("48 hours: hourly checks, upgrade at check time + drawn delay, version read again, busy agent waited for", () => {
    const { files, layer, requests } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1"] })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const store = yield* StateStore
      const fiber = yield* Effect.fork(Daemon.run(options).pipe(Effect.withRandom(Random.make(SEED))))
      yield* TestClock.adjust(Duration.hours(2.5))
      files["version.txt"] = { status: 200, body: "1.2.0\n" }
      yield* host.publish("1.2.0-1")
      yield* TestClock.adjust(Duration.minutes(31))
      const plan = Option.getOrThrow(Option.fromNullable((yield* store.get).plannedUpgrade))
      expect(plan.version).toBe("1.2.0")
      expect(plan.at).toBe(3 * HOUR + Duration.toMillis(firstDelay))
      // The agent starts a 40-minute backup a minute before the upgrade is due.
      const backupStart = plan.at - 60_000
      yield* TestClock.adjust(Duration.millis(backupStart - (2.5 * HOUR + 31 * 60_000)))
      yield* host.startBackup(Duration.minutes(40))
      yield* TestClock.adjust(Duration.millis(48 * HOUR - backupStart))
      yield* Fiber.interrupt(fiber)

      const events = yield* host.events
      const stopped = events.filter((e) => e.what === "agent stopped")
      const restarted = events.find((e) => e.what === "agent 1.2.0-1 started")!
      // The pass ends once the restarted agent has stayed up for the health check's grace period.
      const passEnd = restarted.at + Duration.toMillis(HEALTH_GRACE)
      const reads = versionReads(requests)
      // Every hour on the hour; a check that falls due while the upgrade pass waits for the backup runs when it ends.
      const duringUpgrade = (hour: number) => hour * HOUR > plan.at && hour * HOUR <= passEnd
      expect(reads.filter((at) => Number.isInteger(at))).toEqual(
        Array.from({ length: 49 }, (_, hour) => hour).filter((hour) => !duringUpgrade(hour))
      )
      expect(reads.filter((at) => !Number.isInteger(at))).toEqual([plan.at / HOUR, passEnd / HOUR])
      const backupEnd = backupStart + 40 * 60_000
      expect(stopped).toHaveLength(1)
      // Woken by the lock's release, at the latest one poll (30 s) after it.
      expect(stopped[0]!.at).toBeGreaterThanOrEqual(backupEnd)
      expect(stopped[0]!.at).toBeLessThanOrEqual(backupEnd + 30_000)
      expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      expect(yield* host.violations).toEqual([])
      expect((yield* store.get).plannedUpgrade).toBeUndefined()
      expect(yield* host.locks.held).toEqual(new Map())
    }).pipe(Effect.provide(layer))
  })

  it.effect("a missing agent is installed at once, with no delay", () => {
    const { layer } = setup({ installed: undefined, offered: ["1.1.0-1"] })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const fiber = yield* Effect.fork(Daemon.run(options))
      yield* TestClock.adjust(Duration.seconds(10))
      expect((yield* host.state).installed).toBe("1.1.0-1")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a second daemon fails with AlreadyRunning; the first keeps its pidfile", () => {
    const { layer } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const first = yield* Effect.fork(Daemon.run(options))
      yield* TestClock.adjust(Duration.seconds(1))
      const error = yield* Effect.flip(Daemon.run(options))
      expect(error.message).toBe(`already running (pid ${UPDATER_PID})`)
      expect((yield* host.locks.held).get(PIDFILE)).toBe(UPDATER_PID)
      yield* Fiber.interrupt(first)
      expect((yield* host.locks.held).has(PIDFILE)).toBe(false)
    }).pipe(Effect.provide(layer))
  })

  it.effect.each([["a dead pid", 999], ["the agent's pid", AGENT_PID]] as const)(
    "a stale pidfile naming %s is reclaimed",
    ([, pid]) => {
      const { layer } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        yield* host.locks.holdAs(PIDFILE, pid)
        const fiber = yield* Effect.fork(Daemon.run(options))
        yield* TestClock.adjust(Duration.seconds(1))
        expect((yield* host.locks.held).get(PIDFILE)).toBe(UPDATER_PID)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("a planned upgrade survives a restart: no new draw, same time", () => {
    const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const store = yield* StateStore
      const first = yield* Effect.fork(Daemon.run(options).pipe(Effect.withRandom(Random.make(SEED))))
      yield* TestClock.adjust(Duration.minutes(90))
      const plan = Option.getOrThrow(Option.fromNullable((yield* store.get).plannedUpgrade))
      yield* Fiber.interrupt(first)
      const second = yield* Effect.fork(Daemon.run(options).pipe(Effect.withRandom(Random.make("another seed"))))
      yield* TestClock.adjust(Duration.millis(plan.at - 90 * 60_000 - 1000))
      expect((yield* host.state).installed).toBe("1.1.0-1")
      expect((yield* store.get).plannedUpgrade).toEqual(plan)
      yield* TestClock.adjust(Duration.minutes(5))
      expect((yield* host.state).installed).toBe("1.2.0-1")
      const stops = (yield* host.events).filter((e) => e.what === "agent stopped")
      expect(stops.map((e) => e.at)).toEqual([plan.at + 2000])
      yield* Fiber.interrupt(second)
    }).pipe(Effect.provide(layer))
  })

  it.effect("-i 50000 (longer than the runtime's timer allows): the second check comes 50,000 minutes after the first", () => {
    const { layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
    return Effect.gen(function*() {
      const { clock } = yield* hostClock
      const fiber = yield* Effect.fork(Daemon.run({ ...options, interval: Duration.minutes(50_000) }).pipe(Effect.withClock(clock)))
      const readMinutes = () => requests.filter((r) => r.path === "version.txt").map((r) => r.at / 60_000)
      yield* TestClock.adjust(Duration.minutes(49_999))
      expect(readMinutes()).toEqual([0])
      yield* TestClock.adjust(Duration.minutes(1))
      expect(readMinutes()).toEqual([0, 50_000])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  }, 30_000) // 833 hourly wakes, each one TestClock step

  it.effect("the wall clock set back a day, then forward two: the checks stay hourly in elapsed time", () => {
    const { layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
    return Effect.gen(function*() {
      const { clock, jump } = yield* hostClock
      const fiber = yield* Effect.fork(Daemon.run(options).pipe(Effect.withClock(clock)))
      yield* TestClock.adjust(Duration.minutes(30))
      yield* jump(-24 * HOUR)
      yield* TestClock.adjust(Duration.hours(2))
      yield* jump(48 * HOUR)
      yield* TestClock.adjust(Duration.hours(2))
      yield* Fiber.interrupt(fiber)
      // Read at 0, 1, 2, 3 and 4 hours of elapsed time, stamped with the wall clock of the moment.
      expect(versionReads(requests)).toEqual([0, 1 - 24, 2 - 24, 3 + 24, 4 + 24])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a planned upgrade that falls due when the wall clock jumps ahead is done within the hour", () => {
    const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const { clock, jump } = yield* hostClock
      yield* (yield* StateStore).update((s) => ({ ...s, plannedUpgrade: { version: "1.2.0", at: 10 * HOUR } }))
      const fiber = yield* Effect.fork(Daemon.run({ ...options, interval: Duration.days(1) }).pipe(Effect.withClock(clock)))
      yield* TestClock.adjust(Duration.minutes(90))
      yield* jump(12 * HOUR)
      expect((yield* host.state).installed).toBe("1.1.0-1")
      yield* TestClock.adjust(Duration.hours(1))
      expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  })

  it.effect.each([
    ["ten years ahead", 10 * 365 * 24 * HOUR, "1979-12-30T00:00:00.000Z"],
    ["beyond any date (a damaged file)", 1e300, "1e+300 ms since the epoch"]
  ] as const)("a saved plan %s is drawn again, with a warning, and the upgrade is done within a day", ([, at, shown]) => {
    const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const store = yield* StateStore
      const logs = captureLogs()
      yield* store.update((s) => ({ ...s, plannedUpgrade: { version: "1.2.0", at } }))
      const fiber = yield* Effect.fork(
        Daemon.run(options).pipe(
          Effect.withRandom(Random.make(SEED)),
          Logger.withMinimumLogLevel(LogLevel.Warning),
          Effect.provide(logs.layer)
        )
      )
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* store.get).plannedUpgrade).toEqual({ version: "1.2.0", at: Duration.toMillis(firstDelay) })
      expect(logs.lines).toEqual([
        `WARN the upgrade to 1.2.0 planned at ${shown} is more than 1d 1h ahead, ` +
        "beyond any rollout delay; drawing the delay again"
      ])
      yield* TestClock.adjust(Duration.hours(24))
      expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      expect((yield* store.get).plannedUpgrade).toBeUndefined()
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a planned upgrade to another version than the one published now is drawn again", () => {
    const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
    return Effect.gen(function*() {
      const store = yield* StateStore
      yield* store.update((s) => ({ ...s, plannedUpgrade: { version: "1.1.5", at: 30 * 60_000 } }))
      const fiber = yield* Effect.fork(Daemon.run(options).pipe(Effect.withRandom(Random.make(SEED))))
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* store.get).plannedUpgrade).toEqual({ version: "1.2.0", at: Duration.toMillis(firstDelay) })
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  })

  describe("stopping (the interruption SIGTERM causes)", () => {
    it.effect("during the rollout delay: stops at once, pidfile removed, plan kept", () => {
      const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        const fiber = yield* Effect.fork(Daemon.run(options))
        yield* TestClock.adjust(Duration.minutes(30))
        yield* Fiber.interrupt(fiber)
        expect(yield* host.locks.held).toEqual(new Map())
        expect((yield* (yield* StateStore).get).plannedUpgrade).toBeDefined()
        expect((yield* host.state)).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      }).pipe(Effect.provide(layer))
    })

    it.effect("while the agent is busy at the due time: stops without stopping the agent", () => {
      const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        yield* (yield* StateStore).update((s) => ({ ...s, plannedUpgrade: { version: "1.2.0", at: 0 } }))
        yield* host.startBackup(Duration.hours(3))
        const fiber = yield* Effect.fork(Daemon.run(options))
        yield* TestClock.adjust(Duration.minutes(30))
        yield* Fiber.interrupt(fiber)
        expect((yield* host.events).map((e) => e.what)).not.toContain("agent stopped")
        expect(yield* host.locks.held).toEqual(new Map([[AGENT_LOCK, AGENT_PID]]))
        expect((yield* host.state)).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      }).pipe(Effect.provide(layer))
    })

    it.effect("inside a slow transaction: the transaction completes first, the agent is running after", () => {
      const { layer } = setup(
        { installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"], transactionTime: Duration.minutes(10) },
        { version: "1.2.0" }
      )
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        yield* (yield* StateStore).update((s) => ({ ...s, plannedUpgrade: { version: "1.2.0", at: 0 } }))
        const fiber = yield* Effect.fork(Daemon.run(options))
        yield* TestClock.adjust(Duration.minutes(1))
        expect((yield* host.events).map((e) => e.what)).toContain("transaction: install driveclient 1.2.0-1 (from cache)")
        const interrupted = yield* Effect.fork(Fiber.interrupt(fiber))
        yield* TestClock.adjust(Duration.minutes(5))
        expect(interrupted.unsafePoll()).toBeNull()
        yield* TestClock.adjust(Duration.minutes(5))
        yield* Fiber.join(interrupted)
        expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
        expect(yield* host.locks.held).toEqual(new Map())
      }).pipe(Effect.provide(layer))
    })
  })

  describe("afterCheck", () => {
    it.effect("runs once after each check, once the check is done, and not when a check is held back", () => {
      const { files, layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const after: Array<{ at: number; reads: number }> = []
        const afterCheck = Effect.map(Clock.currentTimeMillis, (at) => void after.push({ at, reads: versionReads(requests).length }))
        const fiber = yield* Effect.fork(Daemon.run({ ...options, afterCheck }))
        yield* TestClock.adjust(Duration.hours(2))
        expect(after).toEqual([{ at: 0, reads: 1 }, { at: HOUR, reads: 2 }, { at: 2 * HOUR, reads: 3 }])
        files["version.txt"] = tooManyRequests(150 * 60_000)
        yield* TestClock.adjust(Duration.hours(1))
        files["version.txt"] = repositoryFiles("1.1.0")["version.txt"]!
        // The 429 check ran (and so did afterCheck); the next check waits for the not-before time.
        yield* TestClock.adjust(Duration.hours(1))
        expect(after.map((a) => a.at / HOUR)).toEqual([0, 1, 2, 3])
        yield* TestClock.adjust(Duration.hours(1.5))
        expect(after.map((a) => a.at / HOUR)).toEqual([0, 1, 2, 3, 5.5])
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })

    it.effect("a defect in it is logged and the daemon goes on", () => {
      const { layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const logs = captureLogs()
        const afterCheck = Effect.sync(() => {
          throw new Error("no memory to give back")
        })
        const fiber = yield* Effect.fork(
          Daemon.run({ ...options, afterCheck }).pipe(Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(logs.layer))
        )
        yield* TestClock.adjust(Duration.hours(1))
        expect(versionReads(requests)).toEqual([0, 1])
        expect(logs.lines.filter((line) => line.startsWith("ERROR"))).toEqual([
          "ERROR internal error: no memory to give back; going on with the next check",
          "ERROR internal error: no memory to give back; going on with the next check"
        ])
        expect(fiber.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })
  })

  describe("a defect (a throw inside a layer) in a check", () => {
    it.effect("is logged with its cause, remembered as the last error, and the next check runs as planned", () => {
      const { files, layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const store = yield* StateStore
        const logs = captureLogs()
        const served = files["version.txt"]!
        files["version.txt"] = throwing("Invalid URL: ftp://mirror.example/version.txt")
        const fiber = yield* Effect.fork(
          Daemon.run(options).pipe(Logger.withMinimumLogLevel(LogLevel.Debug), Effect.provide(logs.layer))
        )
        yield* TestClock.adjust(Duration.seconds(1))
        expect(logs.lines).toContain(
          "ERROR internal error: Invalid URL: ftp://mirror.example/version.txt; going on with the next check"
        )
        const full = logs.lines.find((line) => line.startsWith("DEBUG the defect in full: "))
        expect(full).toContain("TypeError: Invalid URL: ftp://mirror.example/version.txt")
        expect((yield* store.get).lastError).toEqual({
          at: 0,
          message: "internal error: Invalid URL: ftp://mirror.example/version.txt"
        })
        expect(fiber.unsafePoll()).toBeNull()
        files["version.txt"] = served
        yield* TestClock.adjust(Duration.hours(2))
        expect(versionReads(requests)).toEqual([0, 1, 2])
        expect((yield* store.get).lastCheck).toEqual({ at: 2 * HOUR, result: "up to date (1.1.0-1)" })
        expect(fiber.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })

    it.effect("in planning the upgrade: remembered, and the next check plans it", () => {
      const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, { version: "1.2.0" })
      return Effect.gen(function*() {
        const store = yield* StateStore
        let planWrites = 0
        // The first write of a plan throws.
        const flaky = StateStore.of({
          get: store.get,
          update: (f) =>
            Effect.flatMap(store.get, (state) => {
              if (state.plannedUpgrade === undefined && f(state).plannedUpgrade !== undefined && planWrites++ === 0) {
                throw new RangeError("the state file said no")
              }
              return store.update(f)
            })
        })
        const fiber = yield* Effect.fork(
          Daemon.run(options).pipe(Effect.provideService(StateStore, flaky), Effect.withRandom(Random.make(SEED)))
        )
        yield* TestClock.adjust(Duration.seconds(1))
        expect((yield* store.get).plannedUpgrade).toBeUndefined()
        expect((yield* store.get).lastError).toEqual({ at: 0, message: "internal error: the state file said no" })
        yield* TestClock.adjust(Duration.hours(1))
        expect((yield* store.get).plannedUpgrade).toMatchObject({ version: "1.2.0" })
        expect(fiber.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })

    it.effect("an interruption during a pass still ends the daemon, and no check runs after it", () => {
      const { layer, requests } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, {
        version: "1.2.0"
      })
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        yield* (yield* StateStore).update((s) => ({ ...s, plannedUpgrade: { version: "1.2.0", at: 0 } }))
        yield* host.startBackup(Duration.hours(3))
        const logs = captureLogs()
        const fiber = yield* Effect.fork(
          Daemon.run(options).pipe(Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(logs.layer))
        )
        yield* TestClock.adjust(Duration.minutes(30))
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isFailure(exit) && Exit.isInterrupted(exit)).toBe(true)
        expect(logs.lines.at(-1)).toBe("INFO daemon stopped")
        expect(logs.lines.filter((line) => line.startsWith("ERROR"))).toEqual([])
        expect(yield* host.locks.held).toEqual(new Map([[AGENT_LOCK, AGENT_PID]]))
        yield* TestClock.adjust(Duration.hours(3))
        expect(versionReads(requests)).toEqual([0])
      }).pipe(Effect.provide(layer))
    })
  })

  describe("the repository's Retry-After", () => {
    it.effect("a 429 at a check: no request until the not-before time, checked then, hourly again after", () => {
      const { files, layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const store = yield* StateStore
        const logs = captureLogs()
        const served = files["version.txt"]!
        files["version.txt"] = tooManyRequests(150 * 60_000)
        const fiber = yield* Effect.fork(
          Daemon.run(options).pipe(Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(logs.layer))
        )
        yield* TestClock.adjust(Duration.seconds(1))
        files["version.txt"] = served
        expect((yield* store.get).notBefore).toEqual({ at: 2.5 * HOUR, reason: "http://repo.test/version.txt: HTTP status 429" })
        yield* TestClock.adjust(Duration.hours(2.5))
        expect(versionReads(requests)).toEqual([0, 2.5])
        expect((yield* store.get).notBefore).toBeUndefined()
        yield* TestClock.adjust(Duration.hours(2))
        expect(versionReads(requests)).toEqual([0, 2.5, 3, 4])
        expect(logs.lines.filter((line) => line.includes("asked not to be asked again"))).toEqual([
          "INFO the repository asked not to be asked again before 1970-01-01T02:30:00.000Z; the next check waits until then"
        ])
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })

    it.effect("a not-before time found at start holds the first check back; a planned upgrade waits for it too", () => {
      const { layer, requests } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, {
        version: "1.2.0"
      })
      return Effect.gen(function*() {
        const host = yield* SimulatedHostTag
        yield* (yield* StateStore).update((s) => ({
          ...s,
          plannedUpgrade: { version: "1.2.0", at: 0 },
          notBefore: { at: 20 * HOUR, reason: "http://repo.test/version.txt: HTTP status 503" }
        }))
        const fiber = yield* Effect.fork(Daemon.run(options))
        yield* TestClock.adjust(Duration.hours(19.9))
        expect(requests).toEqual([])
        expect((yield* host.state).installed).toBe("1.1.0-1")
        yield* TestClock.adjust(Duration.hours(0.2))
        expect(versionReads(requests)[0]).toBe(20)
        expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })

    it.effect("a not-before time more than a day ahead (the wall clock was set back) is ignored", () => {
      const { layer, requests } = setup({ installed: "1.1.0-1", offered: ["1.1.0-1"] })
      return Effect.gen(function*() {
        const { clock, jump } = yield* hostClock
        yield* (yield* StateStore).update((s) => ({
          ...s,
          notBefore: { at: 2 * HOUR, reason: "http://repo.test/version.txt: HTTP status 429" }
        }))
        const fiber = yield* Effect.fork(Daemon.run(options).pipe(Effect.withClock(clock)))
        yield* TestClock.adjust(Duration.minutes(30))
        expect(requests).toEqual([])
        yield* jump(-24 * HOUR)
        yield* TestClock.adjust(Duration.minutes(31))
        expect(versionReads(requests)).toEqual([1 - 24])
        expect((yield* (yield* StateStore).get).notBefore).toBeUndefined()
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer))
    })
  })
})
