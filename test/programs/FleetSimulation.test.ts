import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { FleetDashboard } from "../../src/domain/FleetDashboard.js"
import { families } from "../../src/domain/Metrics.js"
import { delayCdf, expectedShare, gammaCdf } from "../../src/domain/RolloutCurve.js"
import { drawUnits } from "../../src/domain/RolloutDelay.js"
import * as MemoryMetricsSink from "../../src/layers/MemoryMetricsSink.js"
import * as MemoryStateStore from "../../src/layers/MemoryStateStore.js"
import { SimulatedHostTag } from "../../src/layers/SimulatedHost.js"
import * as Daemon from "../../src/programs/Daemon.js"
import * as FleetSimulation from "../../src/programs/FleetSimulation.js"
import { StateStore } from "../../src/services/StateStore.js"
import { defaults as configDefaults } from "../../src/services/UpdaterConfig.js"
import { repositoryFiles, type Served, simulatedRun } from "../support/SimulatedRun.js"

const HOUR = 3_600_000

const fleet = (overrides: Partial<FleetSimulation.FleetOptions> = {}) =>
  FleetSimulation.run({
    hosts: 300,
    hours: 36,
    seed: "fleet-test",
    installed: "1.1.0-1",
    published: "1.2.0",
    broken: false,
    newStore: MemoryStateStore.make(),
    keepHosts: true,
    ...overrides
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None))

describe("the expected rollout curve", () => {
  it("G is the gamma(3, 2) CDF: its closed form matches a numerical integral of the density", () => {
    const density = (x: number) => (x * x * Math.exp(-x / 2)) / 16
    for (const x of [0.5, 2, 6, 11, 24]) {
      const steps = 20_000
      let integral = 0
      for (let i = 0; i < steps; i++) integral += density(((i + 0.5) * x) / steps) * (x / steps)
      expect(gammaCdf(x)).toBeCloseTo(integral, 8)
    }
  })

  it("E is F averaged over a uniform first check: closed form against numerical integration", () => {
    for (const t of [0, 0.5, 1, 3, 6.5, 11, 23.7, 24, 24.5, 25, 30]) {
      const steps = 20_000
      let mean = 0
      for (let i = 0; i < steps; i++) mean += delayCdf(t - (i + 0.5) / steps) / steps
      expect(expectedShare(t, 1)).toBeCloseTo(mean, 7)
    }
    // Half by about 6 h, 90 % by about 11 h, all after a day plus one interval.
    expect(expectedShare(6, 1)).toBeGreaterThan(0.45)
    expect(expectedShare(6, 1)).toBeLessThan(0.55)
    expect(expectedShare(12, 1)).toBeGreaterThan(0.9)
    expect(expectedShare(25, 1)).toBe(1)
  })

  it.effect("F is the distribution RolloutDelay draws: 20,000 draws within a Kolmogorov–Smirnov bound", () =>
    Effect.gen(function*() {
      const n = 20_000
      const draws = (yield* Effect.replicateEffect(drawUnits, n)).sort((a, b) => a - b)
      let d = 0
      draws.forEach((x, i) => {
        d = Math.max(d, Math.abs(delayCdf(x) - (i + 1) / n), Math.abs(delayCdf(x) - i / n))
      })
      // The 99.9 % critical value is 1.95 / sqrt(n).
      expect(d).toBeLessThan(1.95 / Math.sqrt(n))
    }).pipe(Effect.withRandom(Random.make("curve"))))
})

describe("fleet simulation (the daemon's staged step on N hosts, virtual time)", () => {
  it.effect("2,000 hosts follow the expected curve within 4 standard deviations at every hour", () =>
    Effect.gen(function*() {
      const n = 2_000
      const { report } = yield* fleet({ hosts: n, hours: 30, seed: "curve-2000" })
      expect(report.table).toHaveLength(31)
      for (const row of report.table) {
        // The hosts upgraded by an hour are a binomial count: each host's time is an independent
        // draw (uniform first check plus the truncated gamma delay) from the expected curve's distribution.
        const p = row.expectedPct / 100
        const bound = 100 * Math.max(4 * Math.sqrt((p * (1 - p)) / n), 1 / n) + 0.01
        expect(Math.abs(row.upgradedPct - row.expectedPct), `hour ${row.hour}`).toBeLessThanOrEqual(bound)
        expect(row.triedPct).toBe(row.upgradedPct)
      }
      expect(report.table[0]!.upgradedPct).toBe(0)
      expect(report.table.at(-1)!.upgradedPct).toBe(100)
    }))

  it.effect("the same seed replays the same report; another seed does not", () =>
    Effect.gen(function*() {
      const a = yield* fleet({ seed: "one" })
      const b = yield* fleet({ seed: "one" })
      const c = yield* fleet({ seed: "two" })
      expect(JSON.stringify(a.report)).toBe(JSON.stringify(b.report))
      expect(a.hosts).toEqual(b.hosts)
      expect(JSON.stringify(c.report)).not.toBe(JSON.stringify(a.report))
    }))

  it.effect("each host checks once an hour from its offset, plus once when its plan is due: load counts add up", () =>
    Effect.gen(function*() {
      const hours = 30
      const { hosts, report } = yield* fleet({ hours })
      const tried = hosts!.filter((host) => !Number.isNaN(host.triedAt)).length
      // version.txt: one request per check; the due time is never on a check's grid (a drawn delay is not whole hours).
      expect(report.load.versionTxt.total).toBe(report.hosts * hours + tried)
      expect(report.load.packages.total).toBe(tried)
      expect(report.load.countedChecks + report.load.steps).toBe(report.load.versionTxt.total)
      expect(report.load.versionTxt.meanPerMinute).toBeCloseTo(report.load.versionTxt.total / (hours * 60), 2)
      expect(report.load.versionTxt.peakPerMinute).toBeGreaterThanOrEqual(report.load.versionTxt.meanPerMinute)
    }))

  it.effect("counting a settled host's checks gives the same run as stepping through every one of them", () =>
    Effect.gen(function*() {
      for (const broken of [false, true]) {
        const fast = yield* fleet({ broken, hours: 30 })
        const full = yield* fleet({ broken, hours: 30, exhaustive: true })
        const { load: fastLoad, ...fastRest } = fast.report
        const { load: fullLoad, ...fullRest } = full.report
        expect(fastRest).toEqual(fullRest)
        expect(fast.hosts).toEqual(full.hosts)
        expect(fastLoad.versionTxt).toEqual(fullLoad.versionTxt)
        expect(fastLoad.packages).toEqual(fullLoad.packages)
        expect(fullLoad.countedChecks).toBe(0)
        expect(fastLoad.countedChecks).toBeGreaterThan(0)
      }
    }))

  it.effect("no host upgrades before its plan; each first checks within its first hour and plans below 24 h", () =>
    Effect.gen(function*() {
      const { hosts } = yield* fleet({ hours: 36 })
      for (const host of hosts!) {
        expect(host.firstCheck).toBeGreaterThanOrEqual(0)
        expect(host.firstCheck).toBeLessThan(HOUR)
        expect(host.plannedAt - host.firstCheck).toBeGreaterThan(0)
        expect(host.plannedAt - host.firstCheck).toBeLessThan(Duration.toMillis(Duration.hours(24)))
        // The daemon wakes for the plan: the upgrade runs at the planned time.
        expect(host.upgradedAt).toBe(host.plannedAt)
        expect(host.installed).toBe("1.2.0-1")
      }
    }))

  it.effect("a broken release: every host that tried it rolled back, none kept it, none tried again, every agent runs", () =>
    Effect.gen(function*() {
      const { hosts, report } = yield* fleet({ hosts: 500, hours: 30, published: "1.3.0", broken: true })
      const failure = report.failure!
      expect(failure.version).toBe("1.3.0")
      expect(failure.tried).toBe(500)
      expect(failure.rolledBack).toBe(failure.tried)
      expect(failure.upgradedToFailed).toBe(0)
      expect(failure.stayedOnOld).toBe(500)
      expect(failure.agentsRunning).toBe(500)
      expect(failure.withoutRunningAgent).toBe(0)
      expect(failure.retried).toBe(0)
      expect(report.load.packages.total).toBe(failure.tried)
      expect(report.table.every((row) => row.upgradedPct === 0)).toBe(true)
      for (const host of hosts!) expect(host.triedAt).toBe(host.plannedAt)
    }))

  it.effect("a broken release that is not due yet for some hosts: they have not tried it by the end", () =>
    Effect.gen(function*() {
      const { report } = yield* fleet({ hosts: 500, hours: 4, published: "1.3.0", broken: true })
      const failure = report.failure!
      expect(failure.tried).toBeGreaterThan(0)
      expect(failure.tried).toBeLessThan(500)
      expect(failure.rolledBack).toBe(failure.tried)
      expect(failure.stayedOnOld).toBe(500)
      expect(failure.withoutRunningAgent).toBe(0)
    }))

  it.effect.each([["a", false], ["b", false], ["c", true], ["d", true]] as const)(
    "one host, seed %s, broken %s: the real daemon, over the real pass and the same draws, checks, plans and upgrades as the fleet's host",
    ([seed, broken]) =>
      Effect.gen(function*() {
        const hours = 30
        const { hosts, report } = yield* fleet({ hosts: 1, hours, seed, broken })
        const simulated = hosts![0]!
        const files: Record<string, Served> = repositoryFiles("1.1.0")
        files["version.txt"] = { status: 200, body: "1.2.0\n" }
        const requests: Array<{ path: string; at: number }> = []
        const layer = simulatedRun(
          {
            installed: "1.1.0-1",
            agentRunning: true,
            offered: ["1.1.0-1", "1.2.0-1"],
            crashingVersions: broken ? ["1.2.0-1"] : []
          },
          files,
          requests,
          undefined,
          // The fleet's hosts have the default health grace: the same failure reason.
          { healthGrace: configDefaults.healthGrace }
        )
        // The fleet drew the host's offset first, then its delay: the daemon gets the same stream after the offset.
        const random = Random.make(seed)
        expect(Math.floor((yield* random.next) * HOUR)).toBe(simulated.firstCheck)
        yield* Effect.gen(function*() {
          const host = yield* SimulatedHostTag
          const store = yield* StateStore
          yield* TestClock.setTime(simulated.firstCheck)
          const daemon = yield* Effect.fork(
            Daemon.run({ pidfile: "/run/cloudbackup-updater.pid", interval: Duration.hours(1), delayUnit: "hours" }).pipe(
              Effect.withRandom(random)
            )
          )
          yield* TestClock.adjust(Duration.seconds(1))
          expect((yield* store.get).plannedUpgrade).toEqual({ version: "1.2.0", at: simulated.plannedAt })
          yield* TestClock.setTime(hours * HOUR)
          yield* Fiber.interrupt(daemon)
          const reads = requests.filter((r) => r.path === "version.txt").map((r) => r.at)
          // A check every hour from the offset, and the upgrade's pass at the planned time, as the fleet's
          // host; a check that falls due during that pass (minutes, for its health check) runs when it ends.
          const upgrading = (at: number) => at > simulated.triedAt && at < simulated.triedAt + 10 * 60_000
          for (let k = 0; k < hours; k++) {
            const at = simulated.firstCheck + k * HOUR
            if (!upgrading(at)) expect(reads).toContain(at)
          }
          expect(reads).toContain(simulated.triedAt)
          expect(reads.filter((at) => (at - simulated.firstCheck) % HOUR !== 0 && at !== simulated.triedAt).every(upgrading))
            .toBe(true)
          expect((yield* host.state)).toMatchObject({ installed: simulated.installed, agentRunning: simulated.running })
          expect((yield* store.get).failedVersion?.version).toBe(broken ? "1.2.0" : undefined)
          const started = (yield* host.events).filter((event) => event.what === "agent 1.2.0-1 started")
          expect(started).toHaveLength(1)
          expect(started[0]!.at).toBeGreaterThanOrEqual(simulated.triedAt)
          expect(started[0]!.at).toBeLessThan(simulated.triedAt + 10 * 60_000)
          expect(yield* host.violations).toEqual([])

          // The dashboard of the daemon's metrics files at the end of each hour is the fleet's (but
          // while an upgrade's pass runs: it takes minutes here, an instant there).
          const written = yield* (yield* MemoryMetricsSink.MemoryMetricsTag).written
          expect(written.length).toBeGreaterThan(hours)
          for (const [hour, row] of report.dashboard.hours.entries()) {
            if (upgrading(hour * HOUR)) continue
            const dashboard = new FleetDashboard(1)
            const file = written.filter((facts) => facts.checkedAt <= hour * HOUR).at(-1)
            if (file !== undefined) dashboard.write(0, families(file))
            expect(dashboard.snapshot(hour), `hour ${hour}`).toEqual(row)
          }
          expect(report.dashboard.hours.at(-1)).toMatchObject({ rollbacks: broken ? 1 : 0, agentsRunning: 1 })
        }).pipe(Effect.provide(Layer.merge(layer, MemoryMetricsSink.layer())))
      })
  )
})

describe("the fleet's dashboard (its hosts' metrics files aggregated)", () => {
  /** Hosts whose event came by the end of `hour` (the table's rule). */
  const by = (times: ReadonlyArray<number>, hour: number) => times.filter((at) => at <= hour * HOUR).length

  it.effect("a good release: hosts reporting, by installed version and with a plan pending, hour by hour as the report counts them", () =>
    Effect.gen(function*() {
      const { hosts, report } = yield* fleet({ hosts: 300, hours: 30, seed: "dashboard" })
      const firstChecks = hosts!.map((host) => host.firstCheck)
      const upgrades = hosts!.map((host) => host.upgradedAt)
      expect(report.dashboard.hours).toHaveLength(31)
      for (const row of report.dashboard.hours) {
        const { hour } = row
        const reporting = by(firstChecks, hour)
        const upgraded = by(upgrades, hour)
        expect(upgraded, `hour ${hour}`).toBe(Math.round((report.table[hour]!.upgradedPct * report.hosts) / 100))
        expect(row, `hour ${hour}`).toEqual({
          hour,
          reporting: reporting === 0 ? null : reporting,
          installed: Object.fromEntries(
            [["1.1.0-1", reporting - upgraded], ["1.2.0-1", upgraded]].filter(([, count]) => count !== 0)
          ),
          agentsRunning: reporting === 0 ? null : reporting,
          // Every host plans at its first check, and its plan goes once it has upgraded.
          plannedUpgrades: reporting - upgraded === 0 ? {} : { "1.2.0": reporting - upgraded },
          rollbacks: reporting === 0 ? null : 0,
          heldBack: {},
          lastPassFailed: {}
        })
      }
      expect(report.dashboard.hours.at(-1)!.installed).toEqual({ "1.2.0-1": 300 })
    }))

  it.effect("--fail-version: the rollbacks, the held-back version and the failed passes agree with the failure report", () =>
    Effect.gen(function*() {
      const { hosts, report } = yield* fleet({ hosts: 300, hours: 30, seed: "dashboard", published: "1.3.0", broken: true })
      const failure = report.failure!
      const last = report.dashboard.hours.at(-1)!
      expect(failure.rolledBack).toBe(300)
      expect(last.rollbacks).toBe(failure.rolledBack)
      expect(last.heldBack).toEqual({ "1.3.0": failure.rolledBack })
      expect(last.installed).toEqual({ "1.1.0-1": failure.stayedOnOld })
      expect(last.agentsRunning).toBe(failure.agentsRunning)
      expect(last.plannedUpgrades).toEqual({})
      const reason = "the upgrade to 1.3.0-1 failed (1.3.0-1 did not stay running for 30s); rolled back to 1.1.0-1, which is running again"
      for (const row of report.dashboard.hours) {
        const { hour } = row
        const rolledBack = by(hosts!.map((host) => host.triedAt), hour)
        // A rollback fails its pass; the next check, on the host's hourly grid, passes and leaves the version alone.
        const failing = hosts!.filter((host) => {
          const nextCheck = host.firstCheck + Math.ceil((host.triedAt - host.firstCheck) / HOUR) * HOUR
          return host.triedAt <= hour * HOUR && nextCheck > hour * HOUR
        }).length
        expect(row.rollbacks ?? 0, `hour ${hour}`).toBe(rolledBack)
        expect(row.heldBack, `hour ${hour}`).toEqual(rolledBack === 0 ? {} : { "1.3.0": rolledBack })
        expect(row.lastPassFailed, `hour ${hour}`).toEqual(failing === 0 ? {} : { [reason]: failing })
        expect(row.installed["1.3.0-1"]).toBeUndefined()
      }
      expect(report.dashboard.hours.some((row) => Object.keys(row.lastPassFailed).length > 0)).toBe(true)
    }))
})
