/**
 * Contract condition 6: an old, running, busy agent — the updater waits for the
 * agent's lock, takes it itself, upgrades, and releases it; the agent is never
 * stopped while another process holds the lock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import {
  AGENT_LOCK,
  AGENT_PID,
  expectedLeaveAloneChecks,
  expectedPackageCommands,
  expectedServiceCommands,
  flavors,
  LOCK_POLL,
  makeWorld,
  packageVersion,
  UPDATER_PID
} from "../support/Scenario.js"

/** apt's `-d`, dnf's and yum's `--downloadonly`, zypper's `--download-only`. */
const isDownload = (argv: ReadonlyArray<string>) => ["-d", "--downloadonly", "--download-only"].some((flag) => argv.includes(flag))

describe.each(flavors)("old agent running and busy, $name", (flavor) => {
  it.scoped("waits for the backup to end, then upgrades under the agent's lock", () =>
    Effect.gen(function*() {
      const expected = expectedPackageCommands(flavor)
      const service = expectedServiceCommands(flavor)
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.1.0"), running: true, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      yield* world.locks.holdAs(AGENT_LOCK, AGENT_PID)

      const fiber = yield* Effect.fork(world.pass)
      const waitedForTheLock = yield* Effect.raceFirst(
        Deferred.await(world.agentLockFoundHeld).pipe(Effect.as(true)),
        Fiber.await(fiber).pipe(Effect.as(false))
      )
      expect(waitedForTheLock, "the pass ended without ever finding the agent's lock held").toBe(true)
      // Twenty minutes of backup: the updater keeps polling and must not stop the agent.
      yield* TestClock.adjust(Duration.minutes(20))
      const isStop = (argv: ReadonlyArray<string>) => argv.join(" ") === service.stop.join(" ")
      expect((yield* world.host.commands).some(isStop)).toBe(false)
      expect((yield* world.host.state).running).toBe(true)

      const releasedAt = yield* Clock.currentTimeMillis
      yield* world.locks.drop(AGENT_LOCK)
      yield* TestClock.adjust(LOCK_POLL)
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toEqual(expect.objectContaining({ _tag: "Upgraded", to: packageVersion(flavor, "1.2.0") }))

      const beforeWait = [
        expected.installedVersion,
        ...expectedLeaveAloneChecks(flavor),
        ...expected.refresh,
        expected.candidate,
        service.status,
        ...expected.download(true)
      ]
      const afterWait = [
        service.stop,
        ...expected.install(true),
        expected.installedVersion,
        service.start,
        // The health check.
        service.status
      ]
      const commands = yield* world.host.commands
      expect(commands.slice(0, beforeWait.length)).toEqual(beforeWait)
      expect(commands.slice(-afterWait.length)).toEqual(afterWait)
      // While it waits, the updater only looks whether the agent still runs (a lock held by a stopped agent goes stale).
      const whileWaiting = commands.slice(beforeWait.length, -afterWait.length)
      expect(whileWaiting.length).toBeGreaterThan(0)
      expect(whileWaiting.every((argv) => argv.join(" ") === service.status.join(" "))).toBe(true)
      const transcript = yield* world.host.transcript
      const stop = transcript.find((entry) => isStop(entry.argv))!
      expect(stop.atMillis).toBeGreaterThanOrEqual(releasedAt)
      expect(releasedAt).toBeGreaterThanOrEqual(Duration.toMillis(Duration.minutes(20)))
      // The download happened at once, during the backup.
      expect(transcript.find((entry) => isDownload(entry.argv))!.atMillis)
        .toBe(0)

      const withLock = yield* world.commandsWithLock
      const stopAt = withLock.findIndex((entry) => isStop(entry.argv))
      // Before the stop the lock is the agent's (a last look at the agent may fall just after its release), never the updater's.
      expect(withLock.slice(0, stopAt).every((entry) => entry.agentLockHolder !== UPDATER_PID)).toBe(true)
      const downloadAt = withLock.findIndex((entry) => isDownload(entry.argv))
      expect(withLock[downloadAt]!.agentLockHolder).toBe(AGENT_PID)
      // From the stop to the start the lock is the updater's; the new agent's health is watched without it.
      const startAt = withLock.findIndex((entry) => entry.argv.join(" ") === service.start.join(" "))
      expect(stopAt).toBeLessThan(startAt)
      expect(withLock.slice(stopAt, startAt + 1).every((entry) => entry.agentLockHolder === UPDATER_PID)).toBe(true)
      expect(withLock.slice(startAt + 1).every((entry) => entry.agentLockHolder === undefined)).toBe(true)
      expect((yield* world.locks.held).has(AGENT_LOCK)).toBe(false)
      expect((yield* world.host.state).running).toBe(true)
    }))

  it.scoped("a lock left by a dead agent is broken and the upgrade goes ahead at once", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.1.0"), running: true, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      yield* world.locks.holdAs(AGENT_LOCK, 99999)
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("Upgraded")
      expect((yield* world.locks.held).has(AGENT_LOCK)).toBe(false)
    }))
})
