import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as DryRun from "../../src/layers/DryRun.js"
import { AGENT_PID, SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import { StateStore } from "../../src/services/StateStore.js"
import { AGENT_LOCK, repositoryFiles, simulatedRun } from "../support/SimulatedRun.js"

const OLD_RUNNING = { installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }
const DEAD_UPDATER = 7777

const whats = Effect.flatMap(SimulatedHostTag, (host) => host.events).pipe(Effect.map((events) => events.map((e) => e.what)))

/** Runs the pass in a fiber while the test clock moves on by `time`. */
const passWithin = (time: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.either(updatePass))
    yield* TestClock.adjust(time)
    return yield* Fiber.join(fiber)
  })

describe("recovery from an updater that died half-way", () => {
  it.effect("repairs the package state, gives back the dead updater's lock, starts the agent, then upgrades", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.locks.holdAs(AGENT_LOCK, DEAD_UPDATER)
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag).toBe("Right")
      const events = yield* whats
      expect(events.slice(0, 2)).toEqual(["interrupted transaction repaired", "agent 1.1.0-1 started"])
      expect(events).toContain("agent 1.2.0-1 started")
      expect(yield* host.state).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      expect(yield* host.locks.held).toEqual(new Map())
      expect((yield* (yield* StateStore).get).journal).toBeUndefined()
      expect(yield* host.violations).toEqual([])
    }).pipe(
      Effect.provide(
        simulatedRun(
          { ...OLD_RUNNING, agentRunning: false, interruptedTransaction: true },
          repositoryFiles("1.2.0"),
          undefined,
          {
            journal: {
              pid: DEAD_UPDATER,
              step: "transaction",
              previous: "1.1.0-1",
              target: "1.2.0-1",
              agentWasRunning: true,
              holdsAgentLock: true
            }
          }
        )
      )
    ))

  it.effect("leaves a backup lock that the agent took since then alone", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.minutes(30))
      const fiber = yield* Effect.fork(updatePass)
      yield* TestClock.adjust(Duration.minutes(10))
      expect((yield* host.locks.held).get(AGENT_LOCK)).toBe(AGENT_PID)
      expect(yield* whats).not.toContain("agent stopped")
      yield* TestClock.adjust(Duration.minutes(30))
      yield* Fiber.join(fiber)
      expect(yield* host.violations).toEqual([])
    }).pipe(
      Effect.provide(
        simulatedRun(OLD_RUNNING, repositoryFiles("1.2.0"), undefined, {
          journal: { pid: DEAD_UPDATER, step: "stop", previous: "1.1.0-1", target: "1.2.0-1", agentWasRunning: true, holdsAgentLock: true }
        })
      )
    ))

  it.effect("a journal of an upgrade of a stopped agent does not start it", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* passWithin(Duration.minutes(5))
      expect(yield* host.state).toMatchObject({ installed: "1.2.0-1", agentRunning: false })
      expect(yield* whats).not.toContain("agent 1.1.0-1 started")
    }).pipe(
      Effect.provide(
        simulatedRun({ ...OLD_RUNNING, agentRunning: false }, repositoryFiles("1.2.0"), undefined, {
          journal: { pid: DEAD_UPDATER, step: "transaction", previous: "1.1.0-1", target: "1.2.0-1", agentWasRunning: false, holdsAgentLock: false }
        })
      )
    ))
})

describe("recovery that cannot finish everything", () => {
  const journal = (step: "transaction" | "health-check") => ({
    // As the updater writes it: the health check is watched with the agent's lock given back.
    journal: { pid: DEAD_UPDATER, step, previous: "1.1.0-1", target: "1.2.0-1", agentWasRunning: true, holdsAgentLock: step !== "health-check" }
  })

  it.effect("a package state that cannot be repaired is rolled back, its lock released and the agent started; the pass fails", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.locks.holdAs(AGENT_LOCK, DEAD_UPDATER)
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Left" && result.left.message).toBe(
        "the upgrade to 1.2.0-1 failed (the interrupted transaction could not be finished: " +
          "repair failed: dpkg: error: driveclient is half-installed); rolled back to 1.1.0-1, which is running again"
      )
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", unfinished: false, agentRunning: true })
      expect(yield* host.locks.held).toEqual(new Map())
      // Closed, not left to fail every later pass.
      expect((yield* (yield* StateStore).get).journal).toBeUndefined()
    }).pipe(
      Effect.provide(
        simulatedRun(
          { ...OLD_RUNNING, agentRunning: false, interruptedTransaction: true, failingRepair: "dpkg: error: driveclient is half-installed" },
          repositoryFiles("1.2.0"),
          undefined,
          journal("transaction")
        )
      )
    ))

  it.effect("an updater killed during the health check: the new agent is checked again and rolled back when it does not stay up", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Left" && result.left.message).toBe(
        "the upgrade to 1.2.0-1 failed (1.2.0-1 did not stay running for 10s); rolled back to 1.1.0-1, which is running again"
      )
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect((yield* (yield* StateStore).get).failedVersion?.version).toBe("1.2.0")
    }).pipe(
      Effect.provide(
        simulatedRun(
          { installed: "1.2.0-1", agentRunning: false, offered: ["1.1.0-1", "1.2.0-1"], crashingVersions: ["1.2.0-1"] },
          repositoryFiles("1.2.0"),
          undefined,
          journal("health-check")
        )
      )
    ))
})

describe("health check after an upgrade", () => {
  it.effect("an agent that exits at once is rolled back, started, and its version not tried again", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Left" && result.left.message).toBe(
        "the upgrade to 1.2.0-1 failed (1.2.0-1 did not stay running for 10s); rolled back to 1.1.0-1, which is running again"
      )
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect(yield* host.locks.held).toEqual(new Map())
      const state = yield* (yield* StateStore).get
      expect(state.failedVersion?.version).toBe("1.2.0")
      // A finished rollback closes its journal.
      expect(state.journal).toBeUndefined()
      expect((yield* whats)).toContain("transaction: restore driveclient 1.1.0-1 from kept")

      const again = yield* passWithin(Duration.minutes(5))
      expect(again._tag === "Right" && again.right._tag).toBe("Skipped")
      expect((yield* (yield* StateStore).get).journal).toBeUndefined()
      expect((yield* whats).filter((w) => w.startsWith("transaction: install driveclient 1.2.0-1"))).toHaveLength(1)
    }).pipe(Effect.provide(simulatedRun({ ...OLD_RUNNING, crashingVersions: ["1.2.0-1"] }))))

  it.effect("the backup lock is given back once the new agent is up: a backup may start while its health is watched", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const fiber = yield* Effect.fork(Effect.either(updatePass))
      for (let i = 0; i < 3000 && !(yield* whats).includes("agent 1.2.0-1 started"); i++) {
        yield* TestClock.adjust(Duration.millis(100))
      }
      expect(yield* whats).toContain("agent 1.2.0-1 started")
      expect(Option.isNone(yield* fiber.poll), "the pass still watches the new agent").toBe(true)
      expect((yield* host.locks.held).get(AGENT_LOCK)).toBeUndefined()
      yield* host.startBackup(Duration.minutes(1))
      yield* TestClock.adjust(Duration.minutes(5))
      const result = yield* Fiber.join(fiber)
      expect(result._tag === "Right" && result.right._tag).toBe("Upgraded")
      expect(yield* host.state).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      expect(yield* host.violations).toEqual([])
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("a rollback during the health watch takes the lock again first: it waits for a backup started meanwhile", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const fiber = yield* Effect.fork(Effect.either(updatePass))
      for (let i = 0; i < 3000 && !(yield* whats).includes("agent 1.2.0-1 started"); i++) {
        yield* TestClock.adjust(Duration.millis(100))
      }
      yield* host.startBackup(Duration.minutes(2))
      yield* TestClock.adjust(Duration.minutes(10))
      const result = yield* Fiber.join(fiber)
      expect(result._tag === "Left" && result.left.message).toBe(
        "the upgrade to 1.2.0-1 failed (1.2.0-1 did not stay running for 10s); rolled back to 1.1.0-1, which is running again"
      )
      const events = yield* whats
      const backupEnd = events.indexOf("agent finishes its backup")
      const restore = events.indexOf("transaction: restore driveclient 1.1.0-1 from kept")
      expect(backupEnd).toBeGreaterThan(-1)
      expect(restore).toBeGreaterThan(backupEnd)
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect(yield* host.locks.held).toEqual(new Map())
      expect(yield* host.violations).toEqual([])
    }).pipe(Effect.provide(simulatedRun({ ...OLD_RUNNING, crashingVersions: ["1.2.0-1"] }))))

  it.effect("a newer version than the rolled-back one is tried", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Right" && result.right._tag).toBe("Upgraded")
      expect(yield* host.state).toMatchObject({ installed: "1.3.0-1", agentRunning: true })
      expect((yield* (yield* StateStore).get).failedVersion?.version).toBe("1.2.0")
    }).pipe(
      Effect.provide(
        simulatedRun(
          { ...OLD_RUNNING, offered: ["1.1.0-1", "1.2.0-1", "1.3.0-1"] },
          repositoryFiles("1.3.0"),
          undefined,
          { failedVersion: { version: "1.2.0", at: 0, reason: "it did not stay running after the upgrade" } }
        )
      )
    ))
})

describe("a stale or endless backup lock", () => {
  it.effect("a lock whose holder is dead is treated as released", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.locks.holdAs(AGENT_LOCK, 999)
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Right" && result.right._tag).toBe("Upgraded")
      expect(yield* host.violations).toEqual([])
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("a lock held while the agent is not running is stale after the grace period", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.hours(10))
      const fiber = yield* Effect.fork(updatePass)
      yield* TestClock.adjust(Duration.minutes(1))
      yield* host.agentExits
      yield* TestClock.adjust(Duration.minutes(9))
      expect(yield* whats).not.toContain("transaction: install driveclient 1.2.0-1 (from cache)")
      yield* TestClock.adjust(Duration.minutes(5))
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("Upgraded")
      expect(yield* host.state).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING, repositoryFiles("1.2.0"), undefined, {}, { staleLockGrace: Duration.minutes(10) }))))

  it.effect("--max-wait: a backup that outlasts it fails the pass, the agent untouched", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.hours(2))
      const result = yield* passWithin(Duration.minutes(20))
      expect(result._tag === "Left" && result.left.message).toBe(
        `the agent was still busy after 15m (backup lock held by pid ${AGENT_PID}); giving up as --max-wait says`
      )
      expect(yield* whats).not.toContain("agent stopped")
      expect((yield* host.locks.held).get(AGENT_LOCK)).toBe(AGENT_PID)
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect((yield* (yield* StateStore).get).lastError?.message).toContain("--max-wait")
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING, repositoryFiles("1.2.0"), undefined, {}, { maxBusyWait: Option.some(Duration.minutes(15)) }))))
})

describe("the administrator's choices", () => {
  it.effect.each([
    ["a held package", { held: true }, "the driveclient package is held at its version by the administrator"],
    ["a disabled, stopped agent", { serviceEnabled: false, agentRunning: false }, "the agent's service is disabled and the agent is stopped"]
  ] as const)("%s is not upgraded or started", ([, extra, reason]) =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Right" && result.right).toMatchObject({ _tag: "Skipped", reason })
      expect(yield* whats).toEqual([])
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: "agentRunning" in extra ? extra.agentRunning : true })
    }).pipe(Effect.provide(simulatedRun({ ...OLD_RUNNING, ...extra }))))

  it.effect("a disabled agent that runs anyway is upgraded and left running", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      expect(result._tag === "Right" && result.right._tag).toBe("Upgraded")
      expect(yield* host.state).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
    }).pipe(Effect.provide(simulatedRun({ ...OLD_RUNNING, serviceEnabled: false }))))
})

describe("--dry-run", () => {
  it.effect("reports an upgrade and changes nothing: no package, service, lock or state change", () => {
    const base = simulatedRun({ ...OLD_RUNNING, repositoryConfigured: false })
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const result = yield* passWithin(Duration.minutes(5))
      if (result._tag === "Left") throw result.left
      // The repository is not configured yet, so the package version it offers is not known: the published one is named.
      expect(result.right).toMatchObject({ _tag: "Upgraded", from: "1.1.0-1", to: "1.2.0" })
      expect(yield* whats).toEqual([])
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true, repositoryConfigured: false })
      expect(yield* host.locks.held).toEqual(new Map())
      expect(yield* (yield* StateStore).get).toEqual({})
    }).pipe(Effect.provide(DryRun.over(base)))
  })
})

describe("what a pass remembers", () => {
  it.effect("the last check on success, the last error on failure", () =>
    Effect.gen(function*() {
      yield* passWithin(Duration.minutes(5))
      const state = yield* (yield* StateStore).get
      expect(state.lastCheck?.result).toBe("upgraded 1.1.0-1 to 1.2.0-1")
      expect(state.lastError).toBeUndefined()
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("an error is remembered with its one-line message", () =>
    Effect.gen(function*() {
      yield* passWithin(Duration.minutes(5))
      const state = yield* (yield* StateStore).get
      expect(state.lastError?.message).toBe("http://repo.test/version.txt: body is HTML, not a version")
    }).pipe(
      Effect.provide(simulatedRun(OLD_RUNNING, { ...repositoryFiles("1.2.0"), "version.txt": { status: 200, body: "<html>" } }))
    ))
})
