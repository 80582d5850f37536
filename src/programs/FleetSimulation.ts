/**
 * A fleet of daemons on virtual time: what a staged rollout looks like across N hosts, and what it
 * does to the repository. Each host runs the production scheduling step, `StagedPass.stepWith` —
 * the real rollout draw (`drawDelay`, from Effect's `Random`), the plan kept in the host's own
 * `StateStore` and read back, the due rule, the replanning — around an in-memory model of the
 * update pass (below). Time is a discrete-event loop over a min-heap of (time, host): Effect's
 * `Clock` reads the loop's time, and nothing waits.
 *
 * Each step ends as the daemon's does, in the production `recordingMetrics`: the pass's facts, read
 * from its outcome, the host's state and the host (`PassMetrics`), become the metric families of
 * its metrics file (`Metrics.families`), and `FleetDashboard` aggregates every host's latest ones
 * as Prometheus would over the fleet's files: what a dashboard shows at the end of each hour.
 *
 * The hosts follow the daemon's schedule (`Daemon.run`): a check every interval on the host's own
 * grid (a random offset: daemons start at any time), and a wake at a planned upgrade's due time
 * when that comes before the next check. A check that fails leaves the plan as it was; a plan
 * found past due waits for the next check (the daemon's `wake.upgrade` is set only for a plan
 * still ahead). The timer (`--staged`) checks on its grid only, so its upgrades come up to one
 * interval later; it is not simulated here.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { type Dashboard, FleetDashboard, queries } from "../domain/FleetDashboard.js"
import { reasonsToLeaveAlone } from "../domain/LeaveAlone.js"
import { families } from "../domain/Metrics.js"
import { expectedShare } from "../domain/RolloutCurve.js"
import { isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { MetricsSink } from "../services/MetricsSink.js"
import { PackageManager } from "../services/PackageManager.js"
import { type PlannedUpgrade, StateStore, type StateStoreShape } from "../services/StateStore.js"
import { defaults as configDefaults, UpdaterConfig } from "../services/UpdaterConfig.js"
import { notHealthy } from "./HealthCheck.js"
import { publishedRead, recordingMetrics } from "./PassMetrics.js"
import { PassOutcome } from "./PassOutcome.js"
import { rememberFailed, UpgradeRolledBack } from "./Rollback.js"
import * as StagedPass from "./StagedPass.js"

const HOUR = 3_600_000
const MINUTE = 60_000

export interface FleetOptions {
  readonly hosts: number
  readonly hours: number
  /** Seeds Effect's `Random`: the same seed replays the same run. */
  readonly seed: string
  /** The package version every host runs before the publication. */
  readonly installed: string
  /** The version `version.txt` names from hour 0 on. */
  readonly published: string
  /** The published release is broken: its agent fails the health check after the upgrade. */
  readonly broken: boolean
  /** A fresh state (an empty state file) for each host. */
  readonly newStore: Effect.Effect<StateStoreShape>
  /**
   * Run the step at every check, also for hosts whose step is a no-op (see `settled`); by default
   * their checks are only counted. The tests compare both.
   */
  readonly exhaustive?: boolean
  /** Keep each host's record (first check, plan, upgrade) in the result; for the tests. */
  readonly keepHosts?: boolean
}

export interface HourRow {
  readonly hour: number
  /** Hosts running the published version by then. */
  readonly upgradedPct: number
  /** Hosts whose upgrade to the published version was tried by then (the upgraded ones, and the rolled back). */
  readonly triedPct: number
  /** The curve the tried upgrades should follow (see `RolloutCurve`). */
  readonly expectedPct: number
}

export interface RequestLoad {
  readonly total: number
  readonly peakPerMinute: number
  readonly meanPerMinute: number
}

export interface FailureReport {
  readonly version: string
  /** Hosts that tried the upgrade to the broken version. */
  readonly tried: number
  readonly rolledBack: number
  /** Hosts running the version they had before the publication at the end. */
  readonly stayedOnOld: number
  readonly upgradedToFailed: number
  readonly agentsRunning: number
  readonly withoutRunningAgent: number
  /** Tries of the broken version after a host had rolled it back: the failed version is not retried. */
  readonly retried: number
}

export interface HostRecord {
  readonly firstCheck: number
  /** When the first plan was drawn for, in ms after the publication; NaN if none was. */
  readonly plannedAt: number
  /** When the upgrade (or its try) ran; NaN if it did not. */
  readonly triedAt: number
  readonly upgradedAt: number
  readonly installed: string
  readonly running: boolean
}

export interface FleetReport {
  readonly seed: string
  readonly hosts: number
  readonly hours: number
  readonly intervalMinutes: number
  readonly schedule: "daemon"
  readonly installed: string
  readonly published: string
  readonly table: ReadonlyArray<HourRow>
  /** max |tried − expected| over the hours, in percentage points, and where. */
  readonly maxDeviationPp: number
  readonly maxDeviationHour: number
  readonly load: {
    readonly versionTxt: RequestLoad
    readonly packages: RequestLoad
    /** Checks counted without a step run for them (their step is a no-op; see `settled`). */
    readonly countedChecks: number
    readonly steps: number
  }
  readonly failure: FailureReport | undefined
  /** The fleet's metrics files as a dashboard shows them, at the end of each hour (see `FleetDashboard`). */
  readonly dashboard: Dashboard
}

export interface FleetResult {
  readonly report: FleetReport
  readonly hosts: ReadonlyArray<HostRecord> | undefined
}

interface Host {
  readonly store: StateStoreShape
  /** The package version in the host's package database. */
  installed: string
  running: boolean
  plan: Option.Option<PlannedUpgrade>
  /** The daemon's next check on its grid (`wake.check`). */
  nextCheck: number
  /** A planned upgrade's due time the daemon wakes for (`wake.upgrade`). */
  wakeUpgrade: number | undefined
  firstCheck: number
  plannedAt: number
  triedAt: number
  upgradedAt: number
  tries: number
  rolledBack: number
}

/** A binary min-heap of (time, host), ties broken by host index so that a run is reproducible. */
class EventHeap {
  private readonly times: Float64Array
  private readonly ids: Int32Array
  size = 0
  constructor(capacity: number) {
    this.times = new Float64Array(capacity)
    this.ids = new Int32Array(capacity)
  }
  private less(i: number, j: number) {
    const a = this.times[i]!
    const b = this.times[j]!
    return a < b || (a === b && this.ids[i]! < this.ids[j]!)
  }
  private swap(i: number, j: number) {
    const t = this.times[i]!
    this.times[i] = this.times[j]!
    this.times[j] = t
    const id = this.ids[i]!
    this.ids[i] = this.ids[j]!
    this.ids[j] = id
  }
  push(time: number, id: number) {
    let i = this.size++
    this.times[i] = time
    this.ids[i] = id
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }
  peekTime() {
    return this.times[0]!
  }
  /** Removes the earliest event and returns its host. */
  pop(): number {
    const id = this.ids[0]!
    const last = --this.size
    this.times[0] = this.times[last]!
    this.ids[0] = this.ids[last]!
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < last && this.less(l, m)) m = l
      if (r < last && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
    return id
  }
}

/** A `Clock` whose time is the loop's: virtual, read from `now`; nothing in a fleet pass sleeps. */
const loopClock = (now: () => number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: now,
  currentTimeMillis: Effect.sync(now),
  unsafeCurrentTimeNanos: () => BigInt(Math.round(now() * 1_000_000)),
  currentTimeNanos: Effect.sync(() => BigInt(Math.round(now() * 1_000_000))),
  sleep: () => Effect.dieMessage("a simulated fleet pass does not sleep: the event loop moves time")
})

const loadOf = (perMinute: Int32Array): RequestLoad => {
  let total = 0
  let peak = 0
  for (const count of perMinute) {
    total += count
    if (count > peak) peak = count
  }
  return { total, peakPerMinute: peak, meanPerMinute: Math.round((total / perMinute.length) * 100) / 100 }
}

const pct = (count: number, of: number) => Math.round((count / of) * 10_000) / 100

const notSimulated = (what: string) => Effect.dieMessage(`${what} is not part of the fleet's model of a pass`)

export const run = (options: FleetOptions) =>
  Effect.gen(function*() {
    const interval = HOUR
    const staged: StagedPass.StagedOptions = { delayUnit: "hours", interval: Duration.millis(interval) }
    const end = options.hours * HOUR
    const minutes = options.hours * 60
    const versionRequests = new Int32Array(minutes)
    const packageRequests = new Int32Array(minutes)
    const target = `${options.published}-1`
    let now = 0
    let steps = 0
    let countedChecks = 0
    let retried = 0
    // The production text of a failed health check, with the default grace.
    const unhealthy = yield* notHealthy(target).pipe(Effect.provideService(UpdaterConfig, configDefaults))

    const hosts: Array<Host> = []
    for (let i = 0; i < options.hosts; i++) {
      // In whole milliseconds, as clocks tell time.
      const firstCheck = Math.floor((yield* Random.next) * interval)
      hosts.push({
        store: yield* options.newStore,
        installed: options.installed,
        running: true,
        plan: Option.none(),
        nextCheck: firstCheck,
        wakeUpgrade: undefined,
        firstCheck,
        plannedAt: Number.NaN,
        triedAt: Number.NaN,
        upgradedAt: Number.NaN,
        tries: 0,
        rolledBack: 0
      })
    }

    /**
     * The update pass, in memory, in the order the real one (`UpdatePass.passOnce`) decides:
     * read `version.txt`; an agent at least the published version is up to date; one the rules
     * of `reasonsToLeaveAlone` leave alone (here: the version that failed and was rolled back,
     * from the host's state, as `Rollback.rememberFailed` saved it) is skipped; without `upgrade`
     * it is behind; else the package is downloaded and installed, and the new agent must stay up
     * through its health check, or the previous version is restored and started again and the
     * pass fails with `UpgradeRolledBack`.
     *
     * Faithful enough for scheduling and load because the scheduling step sees only the pass's
     * outcome (or its failure) and the state it saved, and those follow the real rules above.
     * Left out: the repository's configuration (configured on every host), the package manager's
     * and the init system's commands, a backup in progress (the pass waits for it: its upgrade
     * comes minutes later, which an hourly curve does not show), held packages and stopped
     * agents (no host here has one), and network failures (none here).
     */
    const modelPass = (host: Host) => (upgrade: boolean): Effect.Effect<PassOutcome, UpgradeRolledBack, StateStore> => {
      const minute = Math.floor(now / MINUTE)
      versionRequests[minute]!++
      const installed = host.installed
      const published = options.published
      // As the pass does once it has read version.txt, for the metrics of a pass that fails later.
      const read = FiberRef.set(publishedRead, Option.some(published))
      if (isUpToDate(installed, published)) return Effect.as(read, PassOutcome.UpToDate({ installed, published }))
      const state = Effect.zipRight(read, host.store.get)
      return Effect.flatMap(state, ({ failedVersion }): Effect.Effect<PassOutcome, UpgradeRolledBack, StateStore> => {
        const reason = reasonsToLeaveAlone({ published, held: false, failedVersion })[0]
        if (reason !== undefined) return Effect.succeed(PassOutcome.Skipped({ installed, published, reason: reason.text }))
        if (!upgrade) return Effect.succeed(PassOutcome.Behind({ installed, published }))
        packageRequests[minute]!++
        if (host.tries > 0) retried++
        host.tries++
        host.triedAt = now
        // The agent is stopped, the package installed and the new agent started: one pass, one instant
        // here (minutes in life, which an hourly curve does not show).
        host.installed = target
        if (!options.broken) {
          host.upgradedAt = now
          return Effect.succeed(PassOutcome.Upgraded({ from: installed, to: target, agentWasRunning: true }))
        }
        // It exits within its health grace: as `Rollback.rollBack` does, the kept package of the
        // previous version is installed and started again, and the version is remembered as failed
        // and the rollback counted. (The tests check this against the real daemon and pass on a
        // simulated host.)
        host.installed = installed
        host.running = true
        host.rolledBack++
        return Effect.zipRight(
          rememberFailed(target, unhealthy, { rolledBack: true }),
          Effect.fail(new UpgradeRolledBack({ target, previous: installed, reason: unhealthy, agentRunning: true }))
        )
      })
    }

    /**
     * Whether every later check of the host is a no-op: no plan, and a pass that is up to date or
     * leaves the agent alone. `stepWith` then runs the pass without upgrading (nothing is due),
     * the model returns `UpToDate` or `Skipped` reading only the state, and `replan` keeps the
     * absent plan without saving anything or drawing: state, plan and random sequence stay as they
     * were, and the published version does not change during a run. Only the check's
     * `version.txt` request is left, which is counted, and its metrics file, which would differ
     * only in its times: no query of the dashboard reads them. (The tests run the fleet both ways
     * and compare.)
     */
    const settled = (host: Host): Effect.Effect<boolean> =>
      Option.isSome(host.plan)
        ? Effect.succeed(false)
        : isUpToDate(host.installed, options.published)
        ? Effect.succeed(true)
        : Effect.map(
          host.store.get,
          ({ failedVersion }) =>
            reasonsToLeaveAlone({ published: options.published, held: false, failedVersion }).length > 0
        )

    /** A settled host's checks from its next one to the end, counted on its grid. */
    const countRemainingChecks = (host: Host) => {
      for (let t = host.nextCheck; t < end; t += interval) {
        versionRequests[Math.floor(t / MINUTE)]!++
        countedChecks++
      }
    }

    /** After a wake: the host's next one, or NaN once it is settled. */
    const nextWake = (host: Host): Effect.Effect<number> => {
      const plan = host.plan
      host.wakeUpgrade = Option.isSome(plan) && plan.value.at > now ? plan.value.at : undefined
      const next = host.wakeUpgrade === undefined ? host.nextCheck : Math.min(host.nextCheck, host.wakeUpgrade)
      if (options.exhaustive === true) return Effect.succeed(next)
      return Effect.map(settled(host), (done) => {
        if (!done) return next
        countRemainingChecks(host)
        return Number.NaN
      })
    }

    /** One wake of a host's daemon, as `Daemon.run`'s step; its next wake, or NaN once settled. */
    const wake = (host: Host): Effect.Effect<number, never, StateStore | AgentService | PackageManager> => {
      const checkDue = now >= host.nextCheck
      if (checkDue) host.nextCheck += Math.floor((now - host.nextCheck) / interval + 1) * interval
      if (!checkDue && (host.wakeUpgrade === undefined || host.wakeUpgrade > now)) return nextWake(host)
      steps++
      return StagedPass.stepWith(modelPass(host))(host.plan, now, staged).pipe(
        recordingMetrics(({ outcome }) => outcome),
        Effect.map((done) => done.plan),
        // As the daemon's check: a failed pass is logged and the plan stands.
        Effect.catchAll((error) => Effect.as(Effect.logError(error.message), host.plan)),
        Effect.flatMap((plan) => {
          host.plan = plan
          if (Option.isSome(plan) && Number.isNaN(host.plannedAt)) host.plannedAt = plan.value.at
          return nextWake(host)
        })
      )
    }

    /**
     * The `StateStore` of the host whose wake is running: each host has its own store (its own
     * state file), and the wakes run one at a time, so this one service stands for the store of
     * `current` without a service provided afresh (a copy of the fiber's context) at every step.
     */
    let current: Host = hosts[0]!
    let currentIndex = 0
    const currentStore = StateStore.of({
      get: Effect.suspend(() => current.store.get),
      update: (f) => Effect.suspend(() => current.store.update(f))
    })
    // What the metrics of a pass ask of the host besides its state: whether the agent runs, and
    // after a failure, the installed version.
    const currentAgent = AgentService.of({
      kind: "systemd",
      isRunning: Effect.sync(() => current.running),
      startedAt: notSimulated("the agent's start time"),
      isEnabled: notSimulated("the agent's boot setting"),
      stop: notSimulated("stopping the agent"),
      start: notSimulated("starting the agent")
    })
    const currentPackages = PackageManager.of({
      kind: "apt",
      installedVersion: Effect.sync(() => Option.some(current.installed)),
      repositoryState: notSimulated("the repository's configuration"),
      configureRepository: notSimulated("configuring the repository"),
      refresh: notSimulated("a metadata refresh"),
      candidateVersion: notSimulated("the candidate version"),
      download: notSimulated("a download"),
      install: notSimulated("an install"),
      installVersion: () => notSimulated("an install"),
      securePackage: () => notSimulated("securing a package"),
      keepPackages: () => notSimulated("keeping packages"),
      restore: () => notSimulated("a restore"),
      installedState: notSimulated("the installed state"),
      isHeld: notSimulated("a hold"),
      repair: notSimulated("a repair")
    })
    const dashboard = new FleetDashboard(options.hosts)
    const dashboardSink = MetricsSink.of({
      enabled: true,
      write: (facts) => Effect.sync(() => dashboard.write(currentIndex, families(facts)))
    })
    const dashboardHours: Array<Dashboard["hours"][number]> = []

    const heap = new EventHeap(options.hosts)
    hosts.forEach((host, index) => heap.push(host.firstCheck, index))
    const loop = Effect.gen(function*() {
      while (heap.size > 0 && heap.peekTime() < end) {
        now = heap.peekTime()
        // The files at the end of each hour before this wake (the table's hour h counts what happened by h).
        while (dashboardHours.length * HOUR < now) dashboardHours.push(dashboard.snapshot(dashboardHours.length))
        const index = heap.pop()
        current = hosts[index]!
        currentIndex = index
        const next = yield* wake(current)
        if (!Number.isNaN(next)) heap.push(next, index)
      }
      while (dashboardHours.length <= options.hours) dashboardHours.push(dashboard.snapshot(dashboardHours.length))
    })
    yield* loop.pipe(
      Effect.withClock(loopClock(() => now)),
      Effect.provideService(StateStore, currentStore),
      Effect.provideService(AgentService, currentAgent),
      Effect.provideService(PackageManager, currentPackages),
      Effect.provideService(MetricsSink, dashboardSink)
    )

    // The curve: hosts upgraded, and upgrades tried, by each hour.
    const upgradedBy = new Int32Array(options.hours + 1)
    const triedBy = new Int32Array(options.hours + 1)
    for (const host of hosts) {
      if (!Number.isNaN(host.upgradedAt)) upgradedBy[Math.ceil(host.upgradedAt / HOUR)]!++
      if (!Number.isNaN(host.triedAt)) triedBy[Math.ceil(host.triedAt / HOUR)]!++
    }
    const table: Array<HourRow> = []
    let upgraded = 0
    let tried = 0
    let maxDeviationPp = 0
    let maxDeviationHour = 0
    for (let hour = 0; hour <= options.hours; hour++) {
      upgraded += upgradedBy[hour]!
      tried += triedBy[hour]!
      const expected = expectedShare(hour, interval / HOUR)
      const row = {
        hour,
        upgradedPct: pct(upgraded, options.hosts),
        triedPct: pct(tried, options.hosts),
        expectedPct: Math.round(expected * 10_000) / 100
      }
      const deviation = Math.abs((tried / options.hosts - expected) * 100)
      if (deviation > maxDeviationPp) {
        maxDeviationPp = deviation
        maxDeviationHour = hour
      }
      table.push(row)
    }

    const failure: FailureReport | undefined = options.broken
      ? {
        version: options.published,
        tried: hosts.filter((host) => host.tries > 0).length,
        rolledBack: hosts.filter((host) => host.rolledBack > 0).length,
        stayedOnOld: hosts.filter((host) => host.installed === options.installed).length,
        upgradedToFailed: hosts.filter((host) => upstreamOf(host.installed) === options.published).length,
        agentsRunning: hosts.filter((host) => host.running).length,
        withoutRunningAgent: hosts.filter((host) => !host.running).length,
        retried
      }
      : undefined

    const report: FleetReport = {
      seed: options.seed,
      hosts: options.hosts,
      hours: options.hours,
      intervalMinutes: interval / MINUTE,
      schedule: "daemon",
      installed: options.installed,
      published: options.published,
      table,
      maxDeviationPp: Math.round(maxDeviationPp * 100) / 100,
      maxDeviationHour,
      load: { versionTxt: loadOf(versionRequests), packages: loadOf(packageRequests), countedChecks, steps },
      failure,
      dashboard: { queries, hours: dashboardHours }
    }
    return {
      report,
      hosts: options.keepHosts === true
        ? hosts.map((host) => ({
          firstCheck: host.firstCheck,
          plannedAt: host.plannedAt,
          triedAt: host.triedAt,
          upgradedAt: host.upgradedAt,
          installed: host.installed,
          running: host.running
        }))
        : undefined
    } satisfies FleetResult
  }).pipe(Effect.withRandom(Random.make(options.seed)))
