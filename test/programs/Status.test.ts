import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { AGENT_PID, SimulatedHostTag, UPDATER_PID } from "../../src/layers/SimulatedHost.js"
import { formatText, gather, STATUS_SCHEMA_VERSION } from "../../src/programs/Status.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import { StateStore } from "../../src/services/StateStore.js"
import { repositoryFiles, simulatedRun } from "../support/SimulatedRun.js"

const PIDFILE = "/run/cloudbackup-updater.pid"
const HOUR = 3_600_000

describe("status", () => {
  it.effect("reports versions, repository, agent, daemon and what the updater remembers", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.startBackup(Duration.minutes(30))
      yield* host.locks.holdAs(PIDFILE, UPDATER_PID)
      const report = yield* gather(PIDFILE)
      expect(report).toMatchObject({
        installed: { value: "1.1.0-1" },
        published: { value: "1.2.0" },
        repository: { value: { base: "http://repo.test", configuredIn: "/etc/apt/sources.list.d/driveclient.list" } },
        agent: { running: { value: true }, serviceEnabled: { value: true }, busy: { value: { pid: AGENT_PID } }, held: { value: true } },
        daemon: { value: { pid: UPDATER_PID } },
        plannedUpgrade: { version: "1.2.0", at: "1970-01-01T05:00:00.000Z" },
        lastCheck: { at: "1970-01-01T01:00:00.000Z", result: "up to date (1.1.0-1)" },
        failedVersion: null,
        lastError: null,
        notBefore: null,
        interruptedUpgrade: null
      })
      expect(report.notes).toEqual([
        "left alone: the driveclient package is held at its version by the administrator",
        "the upgrade is planned at 1970-01-01T05:00:00.000Z (staged rollout)"
      ])
      expect(report.reasons).toEqual([
        { code: "held", text: "left alone: the driveclient package is held at its version by the administrator" },
        { code: "planned", text: "the upgrade is planned at 1970-01-01T05:00:00.000Z (staged rollout)" }
      ])
      const text = formatText(report)
      expect(text).toContain("installed agent:     1.1.0-1\n")
      expect(text).toContain("backup in progress:  yes (lock held by pid 4242)\n")
      expect(text).toContain("daemon:              running (pid 5151)\n")
      expect(text.split("\n").at(-1)).toBe("note: the upgrade is planned at 1970-01-01T05:00:00.000Z (staged rollout)")
      expect(yield* host.events).toEqual([
        expect.objectContaining({ what: "agent starts a backup for 30m" })
      ])
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"], held: true }, repositoryFiles("1.2.0"), undefined, {
          plannedUpgrade: { version: "1.2.0", at: 5 * HOUR },
          lastCheck: { at: HOUR, result: "up to date (1.1.0-1)" }
        })
      )
    ))

  it.effect("a value that cannot be read is reported with why; the rest is still shown", () =>
    Effect.gen(function*() {
      const report = yield* gather(PIDFILE)
      expect(report.published).toEqual({ error: "http://repo.test/version.txt: HTTP status 500" })
      expect(report.reasons).toEqual([])
      expect(report.installed).toEqual({ value: null })
      expect(report.daemon).toEqual({ value: null })
      expect(formatText(report)).toContain("published version:   unknown (http://repo.test/version.txt: HTTP status 500)\n")
      expect(formatText(report)).toContain("installed agent:     not installed\n")
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: undefined, offered: [] }, { ...repositoryFiles("1.2.0"), "version.txt": { status: 500, body: "" } })
      )
    ))

  it.effect("a pidfile naming another program is not a running daemon; a rolled-back version is explained", () =>
    Effect.gen(function*() {
      const host = yield* SimulatedHostTag
      yield* host.locks.holdAs(PIDFILE, AGENT_PID)
      const report = yield* gather(PIDFILE)
      expect(report.daemon).toEqual({ value: null })
      expect(report.notes).toEqual([
        "left alone: 1.2.0 failed and was rolled back (it did not stay running after the upgrade); waiting for a newer version"
      ])
      expect(report.reasons).toEqual([{ code: "rolled-back", text: report.notes[0] }])
      expect(report.agent.busy).toEqual({ value: null })
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] }, repositoryFiles("1.2.0"), undefined, {
          failedVersion: { version: "1.2.0", at: 0, reason: "it did not stay running after the upgrade" }
        })
      )
    ))
})

describe("status and the repository's Retry-After", () => {
  const TOO_MANY = "http://repo.test/version.txt: HTTP status 429"

  it.effect("before the not-before time: shown, and the repository is not asked for the published version", () => {
    const requests: Array<{ path: string; at: number }> = []
    return Effect.gen(function*() {
      const report = yield* gather(PIDFILE)
      expect(report.notBefore).toEqual({ at: "1970-01-01T02:00:00.000Z", reason: TOO_MANY })
      expect(report.published).toEqual({ error: "the repository asked not to be asked again before 1970-01-01T02:00:00.000Z" })
      expect(report.reasons).toEqual([
        { code: "not-before", text: `the repository asked not to be asked again before 1970-01-01T02:00:00.000Z (${TOO_MANY})` }
      ])
      expect(report.notes).toEqual([])
      expect(requests).toEqual([])
      const text = formatText(report)
      expect(text.split("\n")).toContain(`not before:          1970-01-01T02:00:00.000Z (the repository asked to wait: ${TOO_MANY})`)
      expect(text).toContain("published version:   unknown (the repository asked not to be asked again before 1970-01-01T02:00:00.000Z)\n")
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", offered: ["1.1.0-1"] }, repositoryFiles("1.2.0"), requests, {
          notBefore: { at: 2 * HOUR, reason: TOO_MANY }
        })
      )
    )
  })

  it.effect("once it has passed (or when it is more than a day ahead): none, and the repository is asked", () => {
    const requests: Array<{ path: string; at: number }> = []
    return Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(2))
      const report = yield* gather(PIDFILE)
      expect(report.notBefore).toBeNull()
      expect(report.published).toEqual({ value: "1.2.0" })
      expect(report.reasons.map(({ code }) => code)).toEqual([])
      expect(formatText(report).split("\n")).toContain("not before:          none")
      yield* (yield* StateStore).update((s) => ({ ...s, notBefore: { at: 27 * HOUR, reason: TOO_MANY } }))
      expect((yield* gather(PIDFILE)).notBefore).toBeNull()
      expect(requests.map((r) => r.path)).toEqual(["version.txt", "version.txt"])
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", offered: ["1.1.0-1"] }, repositoryFiles("1.2.0"), requests, {
          notBefore: { at: 2 * HOUR, reason: TOO_MANY }
        })
      )
    )
  })
})

describe("status --json", () => {
  it.effect("starts with its schemaVersion, 1, and keeps the notes beside the reasons", () =>
    Effect.gen(function*() {
      const json = JSON.parse(JSON.stringify(yield* gather(PIDFILE))) as Record<string, unknown>
      expect(STATUS_SCHEMA_VERSION).toBe(1)
      expect(Object.keys(json)[0]).toBe("schemaVersion")
      expect(json["schemaVersion"]).toBe(1)
      expect(json["notes"]).toEqual(["left alone: the agent's service is disabled and the agent is stopped"])
      expect(json["reasons"]).toEqual([
        { code: "disabled-and-stopped", text: "left alone: the agent's service is disabled and the agent is stopped" }
      ])
    }).pipe(
      Effect.provide(simulatedRun({ installed: "1.1.0-1", agentRunning: false, serviceEnabled: false, offered: ["1.1.0-1", "1.2.0-1"] }))
    ))

  it.effect("an interrupted upgrade is a reason, after the notes' reasons, and not a note", () =>
    Effect.gen(function*() {
      const report = yield* gather(PIDFILE)
      expect(report.interruptedUpgrade).toEqual({ previous: "1.1.0-1", target: "1.2.0-1", step: "transaction", pid: 999 })
      expect(report.reasons).toEqual([
        { code: "held", text: "left alone: the driveclient package is held at its version by the administrator" },
        {
          code: "interrupted-upgrade",
          text: "the upgrade from 1.1.0-1 to 1.2.0-1 was interrupted before \"transaction\" (pid 999); the next pass recovers it"
        }
      ])
      expect(report.notes).toEqual(["left alone: the driveclient package is held at its version by the administrator"])
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", agentRunning: true, held: true, offered: ["1.1.0-1", "1.2.0-1"] }, repositoryFiles("1.2.0"), undefined, {
          journal: {
            pid: 999,
            step: "transaction",
            previous: "1.1.0-1",
            target: "1.2.0-1",
            agentWasRunning: true,
            holdsAgentLock: true
          }
        })
      )
    ))

  it.effect("a time beyond what a date can show is given in milliseconds, not thrown on", () =>
    Effect.gen(function*() {
      const report = yield* gather(PIDFILE)
      expect(report.lastCheck).toEqual({ at: "100000000000000000000 ms since the epoch", result: "up to date" })
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.2.0-1", offered: ["1.2.0-1"] }, repositoryFiles("1.2.0"), undefined, {
          lastCheck: { at: 1e20, result: "up to date" }
        })
      )
    ))
})

describe("status after a pass that had no way back", () => {
  it.effect("the last check says why the running agent was not upgraded", () =>
    Effect.gen(function*() {
      const outcome = yield* updatePass
      expect(outcome._tag).toBe("Skipped")
      const report = yield* gather(PIDFILE)
      expect(report.lastCheck?.result).toMatch(/^left alone: no package of the installed 1\.1\.0-1 can be had for a rollback/)
      expect(formatText(report)).toContain("--upgrade-without-rollback")
      expect((yield* (yield* SimulatedHostTag).state).agentRunning).toBe(true)
    }).pipe(
      Effect.provide(
        simulatedRun({ installed: "1.1.0-1", agentRunning: true, offered: ["1.2.0-1"], kept: [], rebuildable: false })
      )
    ))
})
