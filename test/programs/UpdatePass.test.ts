import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { AGENT_PID, SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import { EXIT_FAILED, verdict } from "../../src/programs/ExitCode.js"
import { retryAfterOf } from "../../src/programs/NotBefore.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import { RepositoryError } from "../../src/services/Repository.js"
import { StateStore, type UpdaterState } from "../../src/services/StateStore.js"
import { AGENT_LOCK, repositoryFiles, simulatedRun, throwing, tooManyRequests } from "../support/SimulatedRun.js"

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

const HOUR = 3_600_000
const UP_TO_DATE = { installed: "1.2.0-1", agentRunning: true, offered: ["1.2.0-1"] }
const TOO_MANY = "http://repo.test/version.txt: HTTP status 429"

/** The simulated host with the repository's requests noted. */
const withRequests = (files: Parameters<typeof simulatedRun>[1], state?: UpdaterState) => {
  const requests: Array<{ path: string; at: number }> = []
  return { requests, layer: simulatedRun(UP_TO_DATE, files, requests, state) }
}

describe("the repository's Retry-After", () => {
  it.effect.each([
    ["a 429 asking for 2 hours", 2 * HOUR, 429, 2 * HOUR],
    ["a 503 asking for 3 days, kept as one day", 72 * HOUR, 503, 24 * HOUR]
  ] as const)("%s: the pass fails, and the not-before time is remembered with the failure", ([, wait, status, kept]) => {
    const { layer } = withRequests({ ...repositoryFiles("1.2.0"), "version.txt": tooManyRequests(wait, status) })
    return Effect.gen(function*() {
      yield* TestClock.adjust(Duration.minutes(1))
      const error = yield* Effect.flip(updatePass)
      const reason = `http://repo.test/version.txt: HTTP status ${status}`
      expect(error.message).toBe(reason)
      const state = yield* (yield* StateStore).get
      expect(state.notBefore).toEqual({ at: 60_000 + kept, reason })
      expect(state.lastError).toEqual({ at: 60_000, message: reason })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a run before the not-before time fails with one line, without a request, the last error kept", () => {
    const lastError = { at: 0, message: TOO_MANY }
    const { layer, requests } = withRequests(repositoryFiles("1.2.0"), { notBefore: { at: 2 * HOUR, reason: TOO_MANY }, lastError })
    return Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(1))
      const exit = yield* Effect.exit(updatePass)
      expect(verdict(exit, EXIT_FAILED)).toEqual({
        code: EXIT_FAILED,
        line: Option.some("the repository asked not to be asked again before 1970-01-01T02:00:00.000Z")
      })
      expect(requests).toEqual([])
      expect(yield* eventsOf).toEqual([])
      expect((yield* (yield* StateStore).get)).toEqual({ notBefore: { at: 2 * HOUR, reason: TOO_MANY }, lastError })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a run at the not-before time asks the repository again, and its success clears it", () => {
    const { layer, requests } = withRequests(repositoryFiles("1.2.0"), { notBefore: { at: 2 * HOUR, reason: TOO_MANY } })
    return Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(2))
      expect((yield* updatePass)._tag).toBe("UpToDate")
      expect(requests.map((r) => r.path)).toEqual(["version.txt"])
      const state = yield* (yield* StateStore).get
      expect(state.notBefore).toBeUndefined()
      expect(state.lastCheck).toEqual({ at: 2 * HOUR, result: "up to date (1.2.0-1)" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a failure without a Retry-After does not set one", () => {
    const { layer } = withRequests({ ...repositoryFiles("1.2.0"), "version.txt": { status: 429, body: "" } })
    return Effect.gen(function*() {
      yield* Effect.flip(updatePass)
      expect((yield* (yield* StateStore).get).notBefore).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("a not-before time more than a day ahead (a clock that was wrong) is ignored, and cleared by the pass", () => {
    const { layer, requests } = withRequests(repositoryFiles("1.2.0"), { notBefore: { at: 25 * HOUR, reason: TOO_MANY } })
    return Effect.gen(function*() {
      expect((yield* updatePass)._tag).toBe("UpToDate")
      expect(requests.map((r) => r.path)).toEqual(["version.txt"])
      expect((yield* (yield* StateStore).get).notBefore).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it("the wait is found along the failure's cause chain", () => {
    class Wrapped extends Data.TaggedError("Wrapped")<{ readonly cause: unknown }> {}
    const asked = new RepositoryError({ url: "https://repo/key", detail: "HTTP status 503", retryAfterMillis: 30_000 })
    expect(retryAfterOf(new Wrapped({ cause: new Wrapped({ cause: asked }) }))).toEqual(Option.some(30_000))
    expect(retryAfterOf(new Wrapped({ cause: new RepositoryError({ url: "https://repo/key", detail: "x" }) }))).toEqual(
      Option.none()
    )
    const loop: { cause?: unknown } = {}
    loop.cause = loop
    expect(retryAfterOf(loop)).toEqual(Option.none())
  })
})

describe("a defect in a one-shot pass", () => {
  it.effect("fails the run as an internal error, remembered as the last error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(updatePass)
      expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
      expect(verdict(exit, EXIT_FAILED)).toEqual({
        code: EXIT_FAILED,
        line: Option.some("internal error: Invalid URL: file:///etc/shadow")
      })
      expect((yield* (yield* StateStore).get).lastError).toEqual({ at: 0, message: "internal error: Invalid URL: file:///etc/shadow" })
    }).pipe(
      Effect.provide(simulatedRun(UP_TO_DATE, { ...repositoryFiles("1.2.0"), "version.txt": throwing("Invalid URL: file:///etc/shadow") }))
    ))
})
