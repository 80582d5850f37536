/**
 * Contract condition 5: an old, running, idle agent — the package is downloaded
 * while it runs, then it is stopped, upgraded and started again. A failed or
 * interrupted upgrade leaves it running.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import {
  AGENT_LOCK,
  expectedLeaveAloneChecks,
  expectedPackageCommands,
  expectedServiceCommands,
  type Flavor,
  flavors,
  makeWorld,
  packageVersion,
  PASS_LOCK,
  UPDATER_PID
} from "../support/Scenario.js"

const oldRunningAgent = (flavor: Flavor) => ({
  installed: packageVersion(flavor, "1.1.0"),
  running: true,
  offered: [packageVersion(flavor, "1.1.0"), packageVersion(flavor, "1.2.0")]
})

/** The commands of a whole upgrade of a running agent, up to the stop. */
const upToStop = (flavor: Flavor) => {
  const expected = expectedPackageCommands(flavor)
  const service = expectedServiceCommands(flavor)
  return [
    expected.installedVersion,
    ...expectedLeaveAloneChecks(flavor),
    ...expected.refresh,
    expected.candidate,
    service.status,
    ...expected.download(true),
    service.stop
  ]
}

describe.each(flavors)("old agent running and idle, $name", (flavor) => {
  const expected = expectedPackageCommands(flavor)
  const service = expectedServiceCommands(flavor)

  it.scoped("downloads first, then stops, upgrades and starts it holding the agent's lock, and watches it without", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({ flavor, published: "1.2.0", host: oldRunningAgent(flavor), repositoryConfigured: true })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({
        _tag: "Upgraded",
        to: packageVersion(flavor, "1.2.0"),
        agentWasRunning: true
      }))
      expect(yield* world.host.commands).toEqual([
        ...upToStop(flavor),
        ...expected.install(true),
        expected.installedVersion,
        service.start,
        // The health check.
        service.status
      ])
      const state = yield* world.host.state
      expect(state.running).toBe(true)
      expect(state.installed?.version).toBe(packageVersion(flavor, "1.2.0"))

      // The agent's lock: free while downloading, the updater's from the stop to the start, given back
      // as soon as the new agent is up: backups may start while its health is watched.
      const withLock = yield* world.commandsWithLock
      const stopAt = withLock.findIndex((entry) => entry.argv.join(" ") === service.stop.join(" "))
      const startAt = withLock.findIndex((entry) => entry.argv.join(" ") === service.start.join(" "))
      expect(stopAt).toBeLessThan(startAt)
      expect(withLock.slice(0, stopAt).every((entry) => entry.agentLockHolder === undefined)).toBe(true)
      expect(withLock.slice(stopAt, startAt + 1).every((entry) => entry.agentLockHolder === UPDATER_PID)).toBe(true)
      expect(withLock.slice(startAt + 1).length).toBeGreaterThan(0)
      expect(withLock.slice(startAt + 1).every((entry) => entry.agentLockHolder === undefined)).toBe(true)
      const held = yield* world.locks.held
      expect(held.has(AGENT_LOCK)).toBe(false)
      expect(held.has(PASS_LOCK)).toBe(false)
    }))

  it.scoped("the daemon is started with its output discarded when sysv runs it", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({ flavor, published: "1.2.0", host: oldRunningAgent(flavor), repositoryConfigured: true })
      yield* world.pass
      const start = (yield* world.host.transcript).find((entry) => entry.argv.join(" ") === service.start.join(" "))
      expect(start?.output).toBe(flavor.serviceManager === "sysv" ? "discard" : "capture")
    }))

  it.scoped("a failed package transaction rolls back, starts the old agent again and fails with the package manager's line", () =>
    Effect.gen(function*() {
      const failure = flavor.packageManager === "apt"
        ? "E: Sub-process /usr/bin/dpkg returned an error code (1)"
        : "Error: Transaction failed"
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { install: failure } },
        repositoryConfigured: true
      })
      const exit = yield* Effect.exit(world.pass)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error?._tag).toBe("UpgradeRolledBack")
      expect(error?.message).toMatch(
        new RegExp(`failed: ${failure.replace(/[()]/g, "\\$&")}\\); rolled back to ${packageVersion(flavor, "1.1.0")}, which is running again$`)
      )
      expect(error?.message).not.toContain("\n")

      // The transaction left the old version in place: the rollback finds nothing to install and starts it.
      expect(yield* world.host.commands).toEqual([
        ...upToStop(flavor),
        ...expected.install(true),
        service.status,
        expected.installedVersion,
        expected.installedVersion,
        service.start,
        // The old agent is watched for the grace period (one look here), then looked at once more on the way out.
        service.status,
        service.status
      ])
      const state = yield* world.host.state
      expect(state.running).toBe(true)
      expect(state.installed?.version).toBe(packageVersion(flavor, "1.1.0"))
      expect((yield* world.locks.held).size).toBe(0)
    }))

  it.scoped("a failed download stops nothing", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { download: "E: Failed to fetch driveclient_1.2.0-1_amd64.deb  404  Not Found" } },
        repositoryConfigured: true
      })
      const exit = yield* Effect.exit(world.pass)
      expect(Exit.isFailure(exit)).toBe(true)
      const commands = yield* world.host.commands
      expect(commands.some((argv) => argv.join(" ") === service.stop.join(" "))).toBe(false)
      expect(commands.some((argv) => argv.join(" ") === service.start.join(" "))).toBe(false)
      expect((yield* world.host.state).running).toBe(true)
    }))

  it.scoped("a failed stop leaves the running agent alone and upgrades nothing", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { stop: "Job for driveclient.service canceled." } },
        repositoryConfigured: true
      })
      const exit = yield* Effect.exit(world.pass)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* world.host.commands).toEqual([...upToStop(flavor), service.status])
      const state = yield* world.host.state
      expect(state.running).toBe(true)
      expect(state.installed?.version).toBe(packageVersion(flavor, "1.1.0"))
    }))

  it.scoped("a slow transaction runs to its end within the Shell timeout; the agent is started after it", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), transactionTime: Duration.minutes(12) },
        repositoryConfigured: true
      })
      const fiber = yield* Effect.fork(world.pass)
      yield* world.host.whenStarted(expected.install(true).at(-1)!)
      yield* TestClock.adjust(Duration.minutes(12))
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("Upgraded")
      const transcript = yield* world.host.transcript
      const start = transcript.find((entry) => entry.argv.join(" ") === service.start.join(" "))
      expect(start?.atMillis).toBe(Duration.toMillis(Duration.minutes(12)))
      const transaction = transcript.find((entry) => entry.argv.join(" ") === expected.install(true).at(-1)!.join(" "))
      expect(transaction?.timeoutMillis).toBeGreaterThanOrEqual(Duration.toMillis(Duration.minutes(30)))
    }))
})
