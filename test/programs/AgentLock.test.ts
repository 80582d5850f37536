/**
 * The agent's backup lock on a real file system, held by real processes: whatever the
 * agent writes in it, a lock whose holder is gone, or that is older than the running
 * agent, is removed; a live holder, or a lock the running agent may have made, is waited for.
 */
import * as fs from "node:fs"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import * as NodeFileLock from "../../src/layers/NodeFileLock.js"
import { holdAgentLock } from "../../src/programs/AgentLock.js"
import { AgentService } from "../../src/services/AgentService.js"
import { FileLock } from "../../src/services/FileLock.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"
import {
  captureLogs,
  deadPid,
  killChildren,
  liveProcess,
  lockForms,
  steppedLocks,
  tempLockPath,
  writeLock
} from "../support/LockTesting.js"

afterEach(killChildren)

const MADE_AT = 1_714_521_600_000
const HOUR = 3_600_000
const GRACE = Duration.minutes(10)

/** The agent as a stub: whether it runs and since when; how often it was asked since when. */
const stubAgent = (running: boolean, startedAt: Option.Option<number>) => {
  const asked = { startedAt: 0 }
  const layer = Layer.succeed(
    AgentService,
    AgentService.of({
      kind: "systemd",
      isRunning: Effect.succeed(running),
      startedAt: Effect.sync(() => (asked.startedAt++, startedAt)),
      isEnabled: Effect.succeed(true),
      stop: Effect.dieMessage("the agent is never stopped here"),
      start: Effect.dieMessage("the agent is never started here")
    })
  )
  return { asked, layer }
}

/**
 * Takes the agent's lock at `file` in a fiber, as this process, with the lock's waits
 * under the test's control; the fiber ends with what the lock held while it was ours.
 */
const takeAgentLock = (file: string, agent: Layer.Layer<AgentService>) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const { locks, step, waits } = yield* steppedLocks(NodeFileLock.make(process.pid))
    const fiber = yield* holdAgentLock.pipe(
      Effect.zipRight(Effect.sync(() => fs.readFileSync(file, "utf8"))),
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        UpdaterConfig.layer({ agentLock: file, staleLockGrace: GRACE }),
        Layer.succeed(FileLock, locks),
        agent,
        logs.layer
      )),
      Effect.fork
    )
    /** Whether the updater took the lock, or now waits for its holder. */
    const outcome = Effect.raceFirst(
      Effect.as(Fiber.join(fiber), "taken" as const),
      Effect.as(Queue.take(waits), "waiting" as const)
    )
    return { fiber, outcome, step, warnings: () => logs.lines.filter((line) => line.startsWith("WARN")) }
  })

const ownLock = `${process.pid}\n`

describe("holdAgentLock", () => {
  it.effect.each(lockForms)("%s naming a dead pid: removed with a warning, and taken", ([, form]) =>
    Effect.gen(function*() {
      const file = tempLockPath()
      const gone = deadPid()
      writeLock(file, form(gone))
      const { asked, layer } = stubAgent(true, Option.some(MADE_AT + HOUR))
      const take = yield* takeAgentLock(file, layer)
      expect(yield* take.outcome).toBe("taken")
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
      expect(take.warnings()).toEqual([`WARN removed the stale lock ${file}: pid ${gone} no longer holds it`])
      expect(fs.existsSync(file)).toBe(false)
      expect(asked.startedAt).toBe(0)
    }))

  it.effect.each(lockForms)("%s naming a live pid: waited for, even behind a younger agent, until it is gone", ([, form]) =>
    Effect.gen(function*() {
      const file = tempLockPath()
      const holder = liveProcess()
      writeLock(file, form(holder.pid))
      const { asked, layer } = stubAgent(true, Option.some(Date.now() + HOUR))
      const take = yield* takeAgentLock(file, layer)
      expect(yield* take.outcome).toBe("waiting")
      yield* take.step
      expect(yield* take.outcome).toBe("waiting")
      expect(fs.readFileSync(file, "utf8")).toBe(form(holder.pid))
      // A named pid settles it: the agent's start is not asked for.
      expect(asked.startedAt).toBe(0)
      yield* holder.kill
      yield* take.step
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
      expect(take.warnings()).toEqual([`WARN removed the stale lock ${file}: pid ${holder.pid} no longer holds it`])
    }))

  it.effect("a pid that a process started after the lock now has: the holder is gone, the lock removed", () =>
    Effect.gen(function*() {
      const file = tempLockPath()
      const newcomer = liveProcess()
      writeLock(file, `agent ${newcomer.pid}\n`, MADE_AT)
      const take = yield* takeAgentLock(file, stubAgent(true, Option.none()).layer)
      expect(yield* take.outcome).toBe("taken")
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
    }))

  it.effect.each([["empty", ""], ["without a pid", "backup running\n"]])(
    "%s, older than the running agent: removed with a warning, and taken",
    ([, content]) =>
      Effect.gen(function*() {
        const file = tempLockPath()
        writeLock(file, content, MADE_AT)
        const take = yield* takeAgentLock(file, stubAgent(true, Option.some(MADE_AT + 60_000)).layer)
        expect(yield* take.outcome).toBe("taken")
        expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
        expect(take.warnings()).toEqual([
          `WARN removed the stale lock ${file}: it names no pid and is older than the running agent ` +
          `(made 2024-05-01T00:00:00.000Z, the agent started 2024-05-01T00:01:00.000Z)`
        ])
      })
  )

  it.effect.each([
    ["since before it was made", Option.some(MADE_AT - HOUR)],
    ["since within a clock tick of its making", Option.some(MADE_AT + 1_000)],
    ["since a time that cannot be told", Option.none()]
  ] as const)("empty, with the agent running %s: waited for, never stale for want of a pid", ([, startedAt]) =>
    Effect.gen(function*() {
      const file = tempLockPath()
      writeLock(file, "", MADE_AT)
      const { asked, layer } = stubAgent(true, startedAt)
      const take = yield* takeAgentLock(file, layer)
      expect(yield* take.outcome).toBe("waiting")
      yield* take.step
      expect(yield* take.outcome).toBe("waiting")
      expect(fs.readFileSync(file, "utf8")).toBe("")
      expect(asked.startedAt).toBe(2)
      // The agent ends its backup.
      fs.unlinkSync(file)
      yield* take.step
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
      expect(take.warnings()).toEqual([])
    }))

  it.effect("a lock naming the updater's own pid: taken at once", () =>
    Effect.gen(function*() {
      const file = tempLockPath()
      writeLock(file, JSON.stringify({ pid: process.pid }))
      const take = yield* takeAgentLock(file, stubAgent(true, Option.none()).layer)
      expect(yield* take.outcome).toBe("taken")
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
    }))

  it.effect("a live holder while the agent has not run for the grace period: removed with a warning", () =>
    Effect.gen(function*() {
      const file = tempLockPath()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      const take = yield* takeAgentLock(file, stubAgent(false, Option.none()).layer)
      expect(yield* take.outcome).toBe("waiting")
      yield* TestClock.adjust(GRACE)
      yield* take.step
      expect(yield* take.outcome).toBe("taken")
      expect(yield* Fiber.join(take.fiber)).toBe(ownLock)
      expect(take.warnings()).toEqual([`WARN removed the stale lock ${file}: the agent has not been running for 10m`])
    }))
})

describe("holdAgentLock on the live layer", () => {
  it.live("takes the lock on its release, before the poll would have looked again", () =>
    Effect.gen(function*() {
      const POLL = Duration.seconds(5)
      const file = tempLockPath()
      const holder = liveProcess()
      writeLock(file, `${holder.pid}\n`)
      const { layer } = stubAgent(true, Option.none())
      const logs = captureLogs()
      const fiber = yield* holdAgentLock.pipe(
        Effect.zipRight(Effect.sync(() => fs.readFileSync(file, "utf8"))),
        Effect.scoped,
        Effect.provide(Layer.mergeAll(
          UpdaterConfig.layer({ agentLock: file, lockPoll: POLL }),
          NodeFileLock.layer,
          layer,
          logs.layer
        )),
        Effect.fork
      )
      // Waiting: it said so.
      for (let i = 0; i < 200 && !logs.lines.some((line) => line.includes("the agent is busy")); i++) {
        yield* Effect.sleep(Duration.millis(10))
      }
      expect(logs.lines.some((line) => line.includes("the agent is busy"))).toBe(true)
      fs.unlinkSync(file)
      const outcome = yield* Effect.race(
        Effect.map(Fiber.join(fiber), (content) => `taken: ${content}`),
        Effect.as(Effect.sleep(POLL), "the poll would have fired")
      )
      expect(outcome).toBe(`taken: ${ownLock}`)
    }))
})
