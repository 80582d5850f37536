import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { AGENT_PID, SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import { StateStore } from "../../src/services/StateStore.js"
import { AGENT_LOCK, repositoryFiles, simulatedRun } from "../support/SimulatedRun.js"

const OLD_RUNNING = { installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }

const eventsOf = Effect.flatMap(SimulatedHostTag, (host) => host.events).pipe(
  Effect.map((events) => events.map((event) => event.what))
)

describe("updatePass on the simulated host", () => {
  it.effect.each([
    ["empty", { status: 200, body: "" }, "http://repo.test/version.txt: body is empty"],
    ["HTML", { status: 200, body: "<html>hi</html>" }, "http://repo.test/version.txt: body is HTML, not a version"],
    ["404", { status: 404, body: "" }, "http://repo.test/version.txt: HTTP status 404"]
  ] as const)("a bad version.txt (%s) fails before anything on the host changes", ([, response, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(updatePass)
      expect(error.message).toBe(message)
      expect(yield* eventsOf).toEqual([])
      const host = yield* SimulatedHostTag
      expect((yield* host.state).repositoryConfigured).toBe(false)
    }).pipe(
      Effect.provide(
        simulatedRun({ ...OLD_RUNNING, repositoryConfigured: false }, { ...repositoryFiles("1.2.0"), "version.txt": response })
      )
    ))

  it.effect("two passes at once: both succeed, exactly one transaction happens", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.all([updatePass, updatePass], { concurrency: 2 }))
      yield* TestClock.adjust(Duration.minutes(5))
      const outcomes = yield* Fiber.join(fiber)
      expect(outcomes.map((outcome) => outcome._tag).sort()).toEqual(["UpToDate", "Upgraded"])
      const transactions = (yield* eventsOf).filter((what) => what.startsWith("transaction:"))
      expect(transactions).toEqual(["transaction: install driveclient 1.2.0-1 (from cache)"])
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("a failed transaction rolls back, starts the old agent again and fails with the package manager's line", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(updatePass))
      yield* TestClock.adjust(Duration.minutes(5))
      const error = yield* Fiber.join(fiber)
      expect(error.message).toBe(
        "the upgrade to 1.2.0-1 failed (the package transaction failed: install failed: " +
          "E: Sub-process /usr/bin/dpkg returned an error code (1)); rolled back to 1.1.0-1, which is running again"
      )
      const host = yield* SimulatedHostTag
      const state = yield* host.state
      expect(state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect((yield* eventsOf).slice(-2)).toEqual([
        "transaction failed: E: Sub-process /usr/bin/dpkg returned an error code (1)",
        "agent 1.1.0-1 started"
      ])
      expect(yield* host.locks.held).toEqual(new Map())
    }).pipe(
      Effect.provide(simulatedRun({ ...OLD_RUNNING, failingInstall: "E: Sub-process /usr/bin/dpkg returned an error code (1)" }))
    ))

  it.effect("waits out a backup: no stop while the agent holds its lock", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.minutes(20))
      const fiber = yield* Effect.fork(updatePass)
      yield* TestClock.adjust(Duration.minutes(19))
      expect(yield* eventsOf).not.toContain("agent stopped")
      expect((yield* host.locks.held).get(AGENT_LOCK)).toBe(AGENT_PID)
      yield* TestClock.adjust(Duration.minutes(2))
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("Upgraded")
      const events = yield* host.events
      const finished = events.find((e) => e.what === "agent finishes its backup")!
      const stopped = events.find((e) => e.what === "agent stopped")!
      expect(stopped.at).toBeGreaterThanOrEqual(finished.at)
      expect(yield* host.violations).toEqual([])
      expect(yield* host.locks.held).toEqual(new Map())
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("interrupted while waiting for a backup: nothing stopped, no lock left behind", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.hours(2))
      const fiber = yield* Effect.fork(updatePass)
      yield* TestClock.adjust(Duration.minutes(10))
      yield* Fiber.interrupt(fiber)
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect(yield* host.locks.held).toEqual(new Map([[AGENT_LOCK, AGENT_PID]]))
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("an agent found stopped but started while its upgrade is prepared is not upgraded under it", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const fiber = yield* Effect.fork(Effect.flip(updatePass))
      // Securing the way back takes its time (here it hangs for a minute); meanwhile the agent is started.
      yield* TestClock.adjust(Duration.seconds(30))
      yield* host.agentStartedByOthers
      yield* TestClock.adjust(Duration.minutes(5))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("AgentStartedMeanwhile")
      expect(yield* host.state).toMatchObject({ installed: "1.1.0-1", agentRunning: true })
      expect((yield* eventsOf).filter((what) => what.startsWith("transaction:"))).toEqual([])
      expect(yield* host.locks.held).toEqual(new Map())
      expect((yield* (yield* StateStore).get).journal).toBeUndefined()
    }).pipe(
      Effect.provide(
        simulatedRun({
          installed: "1.1.0-1",
          agentRunning: false,
          offered: ["1.1.0-1", "1.2.0-1"],
          faults: [{ at: "secure", kind: "hang" }],
          hangTime: Duration.minutes(1)
        })
      )
    ))
})
