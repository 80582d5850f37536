/**
 * The metrics a pass leaves (`--metrics-dir`), on the simulated host with the sink in memory: after
 * an upgrade, a failure, a rollback; a staged pass's plan; every daemon check; and none from
 * `status` or a dry run.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { drawDelay } from "../../src/domain/RolloutDelay.js"
import * as DryRun from "../../src/layers/DryRun.js"
import * as MemoryMetricsSink from "../../src/layers/MemoryMetricsSink.js"
import { SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import * as Daemon from "../../src/programs/Daemon.js"
import { recordingMetrics } from "../../src/programs/PassMetrics.js"
import * as StagedPass from "../../src/programs/StagedPass.js"
import { status } from "../../src/programs/Status.js"
import { type PassOutcome, updatePass } from "../../src/programs/UpdatePass.js"
import { StateStore, type UpdaterState } from "../../src/services/StateStore.js"
import { repositoryFiles, simulatedRun } from "../support/SimulatedRun.js"

const OLD_RUNNING = { installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }
const HOUR = 3_600_000
const SEED = "pass-metrics-test"
const staged = { interval: Duration.minutes(60), delayUnit: "hours" as const }

const withMemoryMetrics = <E>(base: Layer.Layer<any, E>, options?: MemoryMetricsSink.MemoryMetricsOptions) =>
  Layer.merge(base, MemoryMetricsSink.layer(options))

const metricsOf = Effect.flatMap(MemoryMetricsSink.MemoryMetricsTag, (metrics) => metrics.written)
const fileOf = Effect.flatMap(MemoryMetricsSink.MemoryMetricsTag, (metrics) => metrics.file).pipe(Effect.map(Option.getOrThrow))

/** A one-shot pass as main runs it, its metrics recorded; ten minutes of virtual time for the health check. */
const oneShot = Effect.gen(function*() {
  const fiber = yield* Effect.fork(Effect.either(recordingMetrics((outcome: PassOutcome) => outcome)(updatePass)))
  yield* TestClock.adjust(Duration.minutes(10))
  return yield* Fiber.join(fiber)
})

const sampleLines = (text: string) => text.split("\n").filter((line) => line !== "" && !line.startsWith("#"))

describe("the metrics of a one-shot pass", () => {
  it.effect("after an upgrade: the new version, running, success, nothing rolled back", () =>
    Effect.gen(function*() {
      const result = yield* oneShot
      expect(Either.isRight(result) && result.right._tag).toBe("Upgraded")
      const written = yield* metricsOf
      expect(written).toHaveLength(1)
      // When the pass ended, as the state file has it too.
      const now = (yield* (yield* StateStore).get).lastCheck!.at
      expect(written[0]).toEqual({
        installed: "1.2.0-1",
        published: "1.2.0",
        agentRunning: true,
        checkedAt: now,
        lastSuccessAt: now,
        failure: undefined,
        plannedUpgrade: undefined,
        rollbacks: 0,
        failedVersion: undefined
      })
      expect(sampleLines(yield* fileOf)).toEqual([
        "cloudbackup_updater_agent_info{installed=\"1.2.0-1\",published=\"1.2.0\"} 1",
        "cloudbackup_updater_agent_running 1",
        `cloudbackup_updater_last_check_timestamp_seconds ${now / 1000}`,
        `cloudbackup_updater_last_success_timestamp_seconds ${now / 1000}`,
        "cloudbackup_updater_last_pass_success 1",
        "cloudbackup_updater_rollbacks_total 0"
      ])
    }).pipe(Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING)))))

  it.effect("after a failure that was rolled back: the old version, the published one, the reason, the counter up, the version held back", () =>
    Effect.gen(function*() {
      const result = yield* oneShot
      if (Either.isRight(result)) throw new Error("the pass should have failed")
      const [facts] = yield* metricsOf
      expect(facts).toEqual({
        installed: "1.1.0-1",
        published: "1.2.0",
        agentRunning: true,
        checkedAt: (yield* (yield* StateStore).get).lastError!.at,
        // The state's last success, from before.
        lastSuccessAt: 1_000,
        failure: result.left.message,
        plannedUpgrade: undefined,
        rollbacks: 1,
        failedVersion: "1.2.0"
      })
      expect(facts!.failure).toMatch(/^the upgrade to 1\.2\.0-1 failed \(.*\); rolled back to 1\.1\.0-1, which is running again$/)
      const lines = sampleLines(yield* fileOf)
      expect(lines).toContain("cloudbackup_updater_last_pass_success 0")
      expect(lines).toContain(`cloudbackup_updater_last_error_info{reason="${facts!.failure}"} 1`)
      expect(lines).toContain("cloudbackup_updater_rollbacks_total 1")
      expect(lines).toContain("cloudbackup_updater_failed_version_info{version=\"1.2.0\"} 1")
      expect((yield* (yield* StateStore).get).rollbacksDone).toBe(1)

      // The next pass leaves the failed version alone: a success, the version still held back, the count kept.
      yield* TestClock.adjust(Duration.hours(1))
      const next = yield* oneShot
      expect(Either.isRight(next) && next.right._tag).toBe("Skipped")
      const [, after] = yield* metricsOf
      expect(after).toMatchObject({ failure: undefined, rollbacks: 1, failedVersion: "1.2.0", installed: "1.1.0-1", published: "1.2.0" })
      expect(sampleLines(yield* fileOf)).not.toContain(expect.stringContaining("last_error_info"))
    }).pipe(
      Effect.provide(withMemoryMetrics(
        simulatedRun({ ...OLD_RUNNING, crashingVersions: ["1.2.0-1"] }, repositoryFiles("1.2.0"), undefined, {
          lastCheck: { at: 1_000, result: "up to date (1.1.0-1)" }
        })
      ))
    ))

  it.effect("the rollback counter goes on from the state file's count; a newer version no longer holds the failed one back", () =>
    Effect.gen(function*() {
      yield* oneShot
      const [facts] = yield* metricsOf
      expect(facts).toMatchObject({ rollbacks: 5, failure: expect.any(String), failedVersion: "1.3.0", published: "1.3.0" })
      expect(sampleLines(yield* fileOf)).toContain("cloudbackup_updater_rollbacks_total 5")
    }).pipe(
      Effect.provide(withMemoryMetrics(
        simulatedRun(
          { ...OLD_RUNNING, offered: ["1.1.0-1", "1.3.0-1"], crashingVersions: ["1.3.0-1"] },
          repositoryFiles("1.3.0"),
          undefined,
          { rollbacksDone: 4, failedVersion: { version: "1.2.0", at: 0, reason: "it crashed" } }
        )
      ))
    ))

  it.effect("a failure before version.txt was read: no published version, the installed one from the package database", () =>
    Effect.gen(function*() {
      const result = yield* oneShot
      expect(Either.isLeft(result)).toBe(true)
      const [facts] = yield* metricsOf
      expect(facts).toMatchObject({
        installed: "1.1.0-1",
        published: undefined,
        agentRunning: true,
        failure: "http://repo.test/version.txt: HTTP status 404",
        lastSuccessAt: undefined
      })
      expect(sampleLines(yield* fileOf)[0]).toBe("cloudbackup_updater_agent_info{installed=\"1.1.0-1\",published=\"\"} 1")
    }).pipe(
      Effect.provide(withMemoryMetrics(
        simulatedRun(OLD_RUNNING, { ...repositoryFiles("1.2.0"), "version.txt": { status: 404, body: "" } })
      ))
    ))

  it.effect("a metrics file that cannot be written is a warning; the pass still succeeds", () => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    return Effect.gen(function*() {
      const result = yield* oneShot
      expect(Either.isRight(result) && result.right._tag).toBe("Upgraded")
      expect(warnings).toContain("cannot write the metrics file (memory): ENOSPC: no space left on device")
    }).pipe(
      Logger.withMinimumLogLevel(LogLevel.Warning),
      Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING), { failWith: "ENOSPC: no space left on device" })),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  })
})

describe("the metrics of a staged pass and of the daemon", () => {
  const firstDelay = Duration.toMillis(Effect.runSync(drawDelay("hours").pipe(Effect.withRandom(Random.make(SEED)))))

  it.effect("--staged: the plan the pass leaves is the one the metrics show", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        StagedPass.once(staged).pipe(recordingMetrics(({ outcome }) => outcome), Effect.withRandom(Random.make(SEED)))
      )
      yield* TestClock.adjust(Duration.minutes(10))
      expect((yield* Fiber.join(fiber)).outcome._tag).toBe("Behind")
      const [facts] = yield* metricsOf
      expect(facts).toMatchObject({ installed: "1.1.0-1", published: "1.2.0", plannedUpgrade: { version: "1.2.0", at: firstDelay } })
      expect(sampleLines(yield* fileOf)).toContain(
        `cloudbackup_updater_planned_upgrade_timestamp_seconds{version="1.2.0"} ${firstDelay / 1000}`
      )
    }).pipe(Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING)))))

  it.effect("the daemon writes them after every check, and after the planned upgrade", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Daemon.run({ pidfile: "/run/cloudbackup-updater.pid", ...staged }).pipe(Effect.withRandom(Random.make(SEED)))
      )
      yield* TestClock.adjust(Duration.hours(2.5))
      const checks = yield* metricsOf
      expect(checks.map(({ checkedAt }) => checkedAt)).toEqual([0, HOUR, 2 * HOUR])
      expect(checks.map(({ plannedUpgrade }) => plannedUpgrade)).toEqual(Array(3).fill({ version: "1.2.0", at: firstDelay }))
      yield* TestClock.adjust(Duration.millis(firstDelay))
      yield* Fiber.interrupt(fiber)
      const last = (yield* metricsOf).at(-1)!
      expect(last).toMatchObject({ installed: "1.2.0-1", published: "1.2.0", plannedUpgrade: undefined, failure: undefined })
      const host = yield* SimulatedHostTag
      expect((yield* host.state).installed).toBe("1.2.0-1")
    }).pipe(Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING)))))
})

describe("no metrics", () => {
  it.effect("from status, which changes nothing", () =>
    Effect.gen(function*() {
      const console = yield* Effect.console
      // What status prints is another test's concern.
      yield* status({ pidfile: "/run/cloudbackup-updater.pid", json: true }).pipe(
        Effect.withConsole({ ...console, log: () => Effect.void })
      )
      expect(yield* metricsOf).toEqual([])
    }).pipe(Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING, repositoryFiles("1.2.0"), undefined, {
      lastCheck: { at: 0, result: "up to date (1.1.0-1)" }
    } satisfies UpdaterState)))))

  it.effect("from a dry run, whatever sink the live layers bring", () =>
    Effect.gen(function*() {
      const result = yield* oneShot
      expect(Either.isRight(result) && result.right._tag).toBe("Upgraded")
      expect(yield* metricsOf).toEqual([])
    }).pipe(Effect.provide(DryRun.over(withMemoryMetrics(simulatedRun(OLD_RUNNING))))))

  it.effect("without a sink (metrics off, the default): the pass runs as ever", () =>
    Effect.gen(function*() {
      const result = yield* oneShot
      expect(Either.map(result, (outcome) => outcome._tag)).toEqual(Either.right("Upgraded"))
    }).pipe(Effect.provide(simulatedRun(OLD_RUNNING))))

  it.effect("an interrupted pass writes none", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.hours(1))
      const fiber = yield* Effect.fork(recordingMetrics(identity<PassOutcome>)(updatePass))
      yield* TestClock.adjust(Duration.minutes(5))
      yield* Fiber.interrupt(fiber)
      expect(yield* metricsOf).toEqual([])
    }).pipe(Effect.provide(withMemoryMetrics(simulatedRun(OLD_RUNNING)))))
})
