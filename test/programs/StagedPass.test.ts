import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { drawDelay } from "../../src/domain/RolloutDelay.js"
import { SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import * as StagedPass from "../../src/programs/StagedPass.js"
import { StateStore } from "../../src/services/StateStore.js"
import { repositoryFiles, type Served, simulatedRun } from "../support/SimulatedRun.js"

const HOUR = 3_600_000
const SEED = "staged-pass-test"
const options = { interval: Duration.minutes(60), delayUnit: "hours" as const }
const firstDelay = Duration.toMillis(Effect.runSync(drawDelay("hours").pipe(Effect.withRandom(Random.make(SEED)))))

const setup = (host: Parameters<typeof simulatedRun>[0], published: string) => {
  const files: Record<string, Served> = repositoryFiles("1.1.0")
  files["version.txt"] = { status: 200, body: `${published}\n` }
  const requests: Array<{ path: string; at: number }> = []
  return { files, requests, layer: simulatedRun(host, files, requests) }
}

/**
 * One timer run, a fresh process each time (nothing but the state file carries over), given ten
 * minutes of virtual time for the health check's wait.
 */
const runWith = (seed: string) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(StagedPass.once(options).pipe(Effect.withRandom(Random.make(seed))))
    yield* TestClock.adjust(Duration.minutes(10))
    return yield* Fiber.join(fiber)
  })
const run = runWith(SEED)

describe("staged pass (--staged, the timer's run)", () => {
  it.effect("plans a newer version once, keeps the plan across runs, upgrades when it is due and clears it", () => {
    const { layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, "1.2.0")
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const store = yield* StateStore
      const first = yield* run
      expect(first.outcome._tag).toBe("Behind")
      expect((yield* store.get).plannedUpgrade).toEqual({ version: "1.2.0", at: firstDelay })
      expect((yield* host.state).installed).toBe("1.1.0-1")

      // An hour later, another seed: the plan in the state file stands, it is not drawn again.
      yield* TestClock.adjust(Duration.hours(1))
      const second = yield* runWith("another seed")
      expect(second.outcome._tag).toBe("Behind")
      expect((yield* store.get).plannedUpgrade).toEqual({ version: "1.2.0", at: firstDelay })
      expect((yield* host.state).installed).toBe("1.1.0-1")

      yield* TestClock.setTime(firstDelay)
      const due = yield* run
      expect(due.outcome._tag).toBe("Upgraded")
      expect((yield* host.state)).toMatchObject({ installed: "1.2.0-1", agentRunning: true })
      expect((yield* store.get).plannedUpgrade).toBeUndefined()
      expect(yield* host.violations).toEqual([])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a missing agent is installed at once, with no plan", () => {
    const { layer } = setup({ installed: undefined, agentRunning: false, offered: ["1.2.0-1"] }, "1.2.0")
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const done = yield* run
      expect(done.outcome._tag).toBe("Installed")
      expect((yield* host.state).installed).toBe("1.2.0-1")
      expect((yield* (yield* StateStore).get).plannedUpgrade).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("a version published after the plan was drawn is planned afresh", () => {
    const { files, layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, "1.2.0")
    return Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      const store = yield* StateStore
      yield* run
      yield* TestClock.adjust(Duration.hours(1))
      files["version.txt"] = { status: 200, body: "1.3.0\n" }
      yield* host.publish("1.3.0-1")
      const first = (yield* store.get).plannedUpgrade!
      yield* run
      const again = (yield* store.get).plannedUpgrade!
      expect(again.version).toBe("1.3.0")
      expect(again.at).not.toBe(first.at)
      expect(again.at).toBeGreaterThan(HOUR)
      expect((yield* host.state).installed).toBe("1.1.0-1")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a failed pass fails the run (the unit shows failed) and leaves the plan as it was", () => {
    const { files, layer } = setup({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, "1.2.0")
    return Effect.gen(function*() {
      const store = yield* StateStore
      yield* run
      const plan = (yield* store.get).plannedUpgrade
      files["version.txt"] = { status: 200, body: "not a version\n" }
      yield* TestClock.adjust(Duration.hours(1))
      const error = yield* Effect.flip(run)
      expect(error.message).toMatch(/version/)
      expect((yield* store.get).plannedUpgrade).toEqual(plan)
    }).pipe(Effect.provide(layer))
  })
})
