/**
 * A driver for fault-space tests: one simulated host, update passes run on it one after
 * another until nothing changes, and the contract's invariants checked at each such fixed
 * point. A scenario is a list of steps: the host's own faults (armed in its queue, so that
 * each fires after the one before it), and faults of the harness that happen between
 * passes — a truncated state.json (a power loss), a clock jump — along with publishes and
 * backups. A step that is not a host fault is applied only once every host fault listed
 * before it has fired.
 *
 * A fixed point is a pass after which the host's state, its locks, the saved state (but for
 * the time of the last check) and the host's events (but for metadata refreshes) are as they
 * were before it. A host fault still armed there is at a point no pass reaches: it is dropped
 * (and named in the report), and the steps after it go on. After a kill the updater is
 * restarted before the next pass. Each pass gets a bounded amount of Clock time.
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as MemoryStateStore from "../../src/layers/MemoryStateStore.js"
import * as SimulatedHost from "../../src/layers/SimulatedHost.js"
import type { BrokenRelease, Fault, FaultKind, FaultPoint, HostEvent } from "../../src/layers/SimulatedHost.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import { AgentService } from "../../src/services/AgentService.js"
import { FileLock } from "../../src/services/FileLock.js"
import { PackageManager, type PackageManagerKind } from "../../src/services/PackageManager.js"
import * as Repository from "../../src/services/Repository.js"
import { ShutdownInhibitor } from "../../src/services/ShutdownInhibitor.js"
import { StateStore, type UpdaterState } from "../../src/services/StateStore.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"
import type { Response } from "../../src/services/Http.js"
import { AGENT_LOCK, BASE, memoryHttp, repositoryFiles } from "./SimulatedRun.js"

export const FAULT_POINTS: ReadonlyArray<FaultPoint> = [
  "download",
  "secure",
  "stop",
  "preinst",
  "postinst",
  "start",
  "health",
  "restore",
  "repair"
]
export const FAULT_KINDS: ReadonlyArray<FaultKind> = ["fail", "hang", "kill"]

/**
 * The host faults worth arming. Skipped: `hang` at `health` — the health check only asks
 * whether the agent runs, a status query with no step that can run past a timeout; the
 * host gives a hang there the same meaning as `fail` (the started agent dies), so it would
 * only repeat `fail@health`. Every other point × kind is a distinct fault.
 */
export const HOST_FAULTS: ReadonlyArray<Fault> = FAULT_POINTS.flatMap((at) =>
  FAULT_KINDS.filter((kind) => !(at === "health" && kind === "hang")).map((kind) => ({ at, kind }))
)

/** Faults at or after `secure`: the ones that matter once no rollback package can be had. */
export const HOST_FAULTS_FROM_SECURE: ReadonlyArray<Fault> = HOST_FAULTS.filter((fault) => fault.at !== "download")

export type HarnessFault =
  /** state.json is truncated (a power loss): the next pass reads it as damaged, its journal gone. */
  | { readonly _tag: "Truncate" }
  /** The clock jumps by `hours` (backwards when negative) between two passes. */
  | { readonly _tag: "ClockJump"; readonly hours: number }

export const HARNESS_FAULTS: ReadonlyArray<HarnessFault> = [
  { _tag: "Truncate" },
  { _tag: "ClockJump", hours: 7 },
  { _tag: "ClockJump", hours: -5 }
]

export type Step =
  | { readonly _tag: "Host"; readonly fault: Fault }
  | HarnessFault
  /** The repository publishes the next version (and names it in version.txt); a broken one fails as it says. */
  | { readonly _tag: "Publish"; readonly broken?: BrokenRelease | undefined }
  /** The agent starts a backup that holds its lock for `minutes`. */
  | { readonly _tag: "Backup"; readonly minutes: number }

export const host = (fault: Fault): Step => ({ _tag: "Host", fault })

export const describeStep = (step: Step): string => {
  switch (step._tag) {
    case "Host":
      return `${step.fault.kind}@${step.fault.at}`
    case "Truncate":
      return "state.json truncated"
    case "ClockJump":
      return `clock ${step.hours > 0 ? "+" : ""}${step.hours}h`
    case "Publish":
      return step.broken === undefined ? "publish" : `publish broken(${step.broken})`
    case "Backup":
      return `backup ${step.minutes}m`
  }
}

export interface World {
  readonly kind: PackageManagerKind
  /** No kept copy of 1.1.0-1, the repository offers only 1.2.0-1, and (deb) nothing to rebuild it from. */
  readonly rollbackMissing: boolean
  /** `--upgrade-without-rollback`: the administrator accepts an upgrade without a way back. */
  readonly upgradeWithoutRollback: boolean
}

export const describeWorld = (world: World): string =>
  `${world.kind}${world.rollbackMissing ? ", rollback package missing" : ""}${
    world.upgradeWithoutRollback ? ", --upgrade-without-rollback" : ""
  }`

/** Longer than the host's 2 s between a start and the death of an agent that does not stay up; short, for fewer polls. */
const HEALTH_GRACE = Duration.seconds(5)
/** How long a hung step runs before it is killed. */
export const HANG_TIME = Duration.minutes(30)
/** A pass is given this much Clock time, plus the hang time of each hang fault of the scenario. */
export const PASS_BOUND = Duration.hours(2)
const MIN_STEP = 60_000
/** Passes run, after the last step was applied, before a pass must have changed nothing. */
export const MAX_PASSES = 6

const INSTALLED = "1.1.0-1"
const TARGET = "1.2.0-1"

export interface PassRecord {
  readonly number: number
  readonly result: string
  readonly killed: boolean
  readonly tookMinutes: number
}

export interface ScenarioReport {
  readonly problems: ReadonlyArray<string>
  readonly passes: ReadonlyArray<PassRecord>
  readonly events: ReadonlyArray<HostEvent>
  /** Host faults that fired, and those dropped at a fixed point without firing. */
  readonly fired: number
  readonly unfired: ReadonlyArray<string>
  readonly finalVersion: string
}

const packageOf = (n: number) => `1.${n}.0-1`

/** Everything but the moment: `lastCheck` and `lastError` differ in `at` from pass to pass. */
const stateKey = (state: UpdaterState): string => {
  const { lastCheck, lastError, ...rest } = state
  return JSON.stringify({ ...rest, lastCheck: lastCheck?.result, lastError: lastError?.message })
}

/**
 * Events that change something on the host: a pass that only refreshes the package metadata (an
 * upgrade it leaves alone, say), or only tries again to start an agent whose release cannot start
 * or exits at once, or to mend a package whose scripts always fail, is at a fixed point.
 */
const changes = (events: ReadonlyArray<HostEvent>) =>
  events.filter((e, i) => {
    // Each pass mends a package left half-way again: with a release whose scripts always fail, that fails again.
    if (e.what === "package metadata refreshed" || /^agent \S+ failed to start$|^repair failed: /.test(e.what)) return false
    const started = /^agent (\S+) started$/.exec(e.what)
    if (started !== null && events[i + 1]?.what === `agent ${started[1]} exited`) return false
    const exited = /^agent (\S+) exited$/.exec(e.what)
    return !(exited !== null && events[i - 1]?.what === `agent ${exited[1]} started`)
  })

const describeExit = (exit: Exit.Exit<unknown, { readonly message: string }>): { result: string; killed: boolean; defect?: string } => {
  if (Exit.isSuccess(exit)) return { result: `ok: ${JSON.stringify(exit.value)}`, killed: false }
  const defects = Cause.defects(exit.cause)
  const killed = [...defects].some((d) => d instanceof SimulatedHost.UpdaterKilled)
  const other = [...defects].filter((d) => !(d instanceof SimulatedHost.UpdaterKilled))
  if (other.length > 0) return { result: "defect", killed, defect: other.map(String).join("; ") }
  if (killed) return { result: "killed", killed }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return { result: `failed: ${failure.value.message}`, killed: false }
  return { result: `ended: ${Cause.pretty(exit.cause)}`, killed: false }
}

/**
 * Runs `steps` on a host with agent 1.1.0-1 installed and running and 1.2.0 published; then,
 * after the faults, publishes a good newer version and runs passes again. Must run with the
 * TestClock (TestContext). Never fails: what went wrong is in `problems`.
 */
export const runScenario = (world: World, steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    const passes: Array<PassRecord> = []
    const unfired: Array<string> = []
    let fired = 0

    // Versions published during the scenario are 1.3.0-1, 1.4.0-1, …; broken ones are known up front.
    const brokenReleases: Record<string, BrokenRelease> = {}
    let publishes = 0
    for (const step of steps) {
      if (step._tag === "Publish") {
        publishes++
        if (step.broken !== undefined) brokenReleases[packageOf(2 + publishes)] = step.broken
      }
    }
    const finalVersion = packageOf(3 + publishes)
    let published = 0

    const made = yield* SimulatedHost.make({
      kind: world.kind,
      installed: INSTALLED,
      agentRunning: true,
      offered: world.rollbackMissing ? [TARGET] : [INSTALLED, TARGET],
      // No kept copy yet: the rollback package is secured from the repository, and a fault at
      // `secure` can keep it from being had (a kept copy always can).
      kept: [],
      ...(world.rollbackMissing ? { rebuildable: false } : {}),
      brokenReleases,
      hangTime: HANG_TIME,
      agentLock: AGENT_LOCK
    })
    const simulated = made.host
    const files: Record<string, Response> = repositoryFiles("1.2.0")
    const config: UpdaterConfig.UpdaterConfigShape = {
      ...UpdaterConfig.defaults,
      repository: BASE,
      agentLock: AGENT_LOCK,
      lockPoll: Duration.seconds(30),
      healthGrace: HEALTH_GRACE,
      pid: SimulatedHost.UPDATER_PID,
      upgradeWithoutRollback: world.upgradeWithoutRollback
    }
    const repository = yield* Repository.make.pipe(
      Effect.provide(memoryHttp(files)),
      Effect.provideService(UpdaterConfig.UpdaterConfig, config)
    )
    const services = Context.make(PackageManager, made.packages).pipe(
      Context.add(AgentService, made.agent),
      Context.add(FileLock, made.fileLock),
      Context.add(Repository.Repository, repository),
      Context.add(ShutdownInhibitor, { hold: () => Effect.void }),
      Context.add(UpdaterConfig.UpdaterConfig, config)
    )
    const hangs = steps.filter((s) => s._tag === "Host" && s.fault.kind === "hang").length
    const bound = Duration.sum(PASS_BOUND, Duration.times(HANG_TIME, hangs))

    /** When the last backup the agent started ends. */
    let backupUntil = -Infinity

    /** What state.json holds between passes (a `damaged` one stands for a file that does not decode). */
    let stored: UpdaterState = {}

    const snapshot = Effect.gen(function*() {
      // When the agent last started is no change of its own: the events say whether it stayed up.
      const { agentStartedAt: _, ...state } = yield* simulated.state
      const held = [...(yield* simulated.locks.held)]
      return JSON.stringify({ state, held, store: stateKey(stored), events: changes(yield* simulated.events).length })
    })

    const runPass = Effect.gen(function*() {
      const number = passes.length + 1
      // A fresh state store per pass, as a new process reads state.json; a dead updater writes nothing.
      const memory = yield* MemoryStateStore.make(stored)
      const store = StateStore.of({
        get: simulated.asUpdater(memory.get),
        update: (f) => simulated.asUpdater(memory.update(f))
      })
      const startedAt = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(
        Effect.exit(updatePass).pipe(Effect.provide(services), Effect.provideService(StateStore, store))
      )
      // The clock moves on a minute at a time, or straight to the next wake-up when that is later
      // (a hung step), and never past the bound.
      const deadline = startedAt + Duration.toMillis(bound)
      let stuck: string | undefined
      let idle = 0
      for (;;) {
        yield* Effect.yieldNow()
        if (Option.isSome(yield* Fiber.poll(fiber))) break
        const now = yield* Clock.currentTimeMillis
        if (now >= deadline) {
          stuck = `was still running after ${Duration.format(bound)} of Clock time`
          break
        }
        const next = Chunk.reduce(yield* TestClock.sleeps(), Infinity, (a, b) => Math.min(a, b))
        // Nothing to wake it, twice over: it waits for what nothing will bring.
        idle = next === Infinity ? idle + 1 : 0
        if (idle > 2) {
          stuck = "waits for something that nothing will bring"
          break
        }
        // Straight to a later wake-up only once the pass waits for it: a sleep left by an
        // interrupted timeout may lie far ahead after the clock was set back.
        const far = next !== Infinity && next - now > MIN_STEP && FiberStatus.isSuspended(yield* fiber.status)
        yield* TestClock.adjust(Duration.millis(Math.min(far ? next - now : MIN_STEP, deadline - now)))
      }
      const tookMinutes = Math.round(((yield* Clock.currentTimeMillis) - startedAt) / 60_000)
      const exit = yield* Fiber.poll(fiber)
      if (stuck !== undefined || Option.isNone(exit)) {
        yield* Fiber.interruptFork(fiber)
        problems.push(`pass ${number} ${stuck ?? "did not end"}`)
        passes.push({ number, result: "still running", killed: false, tookMinutes })
        return false
      }
      const outer = exit.value
      const described = Exit.isSuccess(outer)
        ? describeExit(outer.value)
        : { result: `ended: ${Cause.pretty(outer.cause)}`, killed: false, defect: Cause.pretty(outer.cause) }
      if (described.defect !== undefined) problems.push(`pass ${number} died of a defect: ${described.defect}`)
      passes.push({ number, result: described.result, killed: described.killed, tookMinutes })
      // What the pass left in the store: a damaged state that was never read stays damaged.
      stored = yield* memory.get
      if ((yield* simulated.state).updaterDead) yield* simulated.restart
      return described.defect === undefined
    })

    /** Checks the invariants at a fixed point. */
    const checkInvariants = (when: string, versions: ReadonlyArray<string>, mayBeDown = false) =>
      Effect.gen(function*() {
        const state = yield* simulated.state
        if (!state.agentRunning && !mayBeDown) problems.push(`${when}: the agent is not running (it ran before)`)
        // A release whose scripts always fail, with no way back, stays half-way until the next one.
        const brokenRelease = mayBeDown && state.installed !== undefined && state.installed !== INSTALLED
        if (state.unfinished && !brokenRelease) problems.push(`${when}: the package ${state.installed} is left unfinished`)
        if (state.installed === undefined || !versions.includes(state.installed)) {
          problems.push(`${when}: installed is ${state.installed ?? "nothing"}, expected ${versions.join(" or ")}`)
        }
        const held = yield* simulated.locks.held
        if (held.size > 0) problems.push(`${when}: locks left: ${[...held].map(([p, pid]) => `${p} (pid ${pid})`).join(", ")}`)
        for (const v of yield* simulated.violations) problems.push(`${when}: contract violation: ${v}`)
      })

    const pending = Effect.map(simulated.state, (s) => s.faults.length)

    const apply = (step: Step) =>
      Effect.gen(function*() {
        switch (step._tag) {
          case "Host":
            return yield* simulated.arm([step.fault])
          case "Truncate":
            stored = { ...stored, damaged: { detail: "unexpected end of JSON input", movedTo: undefined } }
            return
          case "ClockJump": {
            if (step.hours >= 0) return yield* TestClock.adjust(Duration.hours(step.hours))
            // The TestClock's sleeps are on the wall clock: a backup under way would be stretched by
            // the jump, where the agent's real timers are not. It ends first.
            const before = yield* Clock.currentTimeMillis
            if (before < backupUntil) yield* TestClock.adjust(Duration.millis(backupUntil - before))
            backupUntil = -Infinity
            const now = yield* Clock.currentTimeMillis
            return yield* TestClock.setTime(now - Duration.toMillis(Duration.hours(-step.hours)))
          }
          case "Publish": {
            published++
            const version = packageOf(2 + published)
            yield* simulated.publish(version)
            files["version.txt"] = { status: 200, body: `1.${2 + published}.0\n` }
            return
          }
          case "Backup": {
            const now = yield* Clock.currentTimeMillis
            backupUntil = Math.max(backupUntil, now + Duration.toMillis(Duration.minutes(step.minutes)))
            return yield* simulated.startBackup(Duration.minutes(step.minutes))
          }
        }
      })

    /** Runs passes until one changes nothing, applying `queue` as its faults fire. */
    const settle = (queue: Array<Step>, phase: string) =>
      Effect.gen(function*() {
        let sinceChange = 0
        for (;;) {
          // Host faults are armed at once, in order; anything else waits for them to have fired.
          while (queue.length > 0) {
            const head = queue[0]!
            if (head._tag !== "Host" && (yield* pending) > 0) break
            queue.shift()
            yield* apply(head)
            if (head._tag !== "Host") sinceChange = 0
          }
          if (sinceChange >= MAX_PASSES) {
            problems.push(`${phase}: no fixed point after ${MAX_PASSES} passes`)
            return false
          }
          const before = yield* snapshot
          const armed = yield* pending
          const ok = yield* runPass
          fired += armed - (yield* pending)
          if (!ok) return false
          sinceChange++
          const after = yield* snapshot
          if (before !== after) continue
          // Nothing changes, but the agent is still backing up: its lock is its own; wait for the end.
          const now = yield* Clock.currentTimeMillis
          if (now < backupUntil) {
            yield* TestClock.adjust(Duration.millis(backupUntil - now))
            sinceChange = 0
            continue
          }
          // A fixed point: an armed fault still waiting is at a point no pass reaches; it is dropped.
          const left = yield* simulated.disarm
          if (left.length > 0) unfired.push(`${left[0]!.kind}@${left[0]!.at}`)
          // Dropping the last of the faults changes nothing on the host: this is still a fixed point.
          if (left.length <= 1 && queue.length === 0) return true
          yield* simulated.arm(left.slice(1))
          sinceChange = 0
        }
      })

    const allVersions = [INSTALLED, TARGET, ...Array.from({ length: publishes }, (_, i) => packageOf(3 + i))]
    const queue = [...steps]
    if (yield* settle(queue, "after the faults")) {
      // A release that never works cannot be left running when it was installed without a way back
      // (as the administrator accepted), or when the journal that named it the failed one was lost
      // with a damaged state file; the next good version must still be installed and run.
      const brokenAt = steps.findIndex((s) => s._tag === "Publish" && s.broken !== undefined)
      const journalLost = brokenAt >= 0 && steps.slice(brokenAt).some((s) => s._tag === "Truncate")
      const noWayOut = brokenAt >= 0 && (world.upgradeWithoutRollback || journalLost)
      yield* checkInvariants("after the faults", allVersions, noWayOut)
      // The faults are over: a newer good version is published, and the next passes install it.
      files["version.txt"] = { status: 200, body: `${finalVersion.replace(/-1$/, "")}\n` }
      yield* simulated.publish(finalVersion)
      if (yield* settle([], `after ${finalVersion} was published`)) {
        const expected = world.rollbackMissing && !world.upgradeWithoutRollback ? [INSTALLED] : [finalVersion]
        yield* checkInvariants(`after ${finalVersion} was published`, expected)
      }
    }
    return {
      problems,
      passes,
      events: yield* simulated.events,
      fired,
      unfired,
      finalVersion
    } satisfies ScenarioReport
  })

/** Clock time as [-]h:mm:ss from the start (the clock may be set back). */
const clockTime = (at: number): string => {
  const seconds = Math.round(Math.abs(at) / 1000)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${at < 0 ? "-" : " "}${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`
}

export const formatReport = (title: string, report: ScenarioReport): string =>
  [
    `${title}:`,
    ...report.problems.map((p) => `  PROBLEM ${p}`),
    "  passes:",
    ...report.passes.map((p) => `    ${p.number}. (${p.tookMinutes} min) ${p.result}`),
    "  host events:",
    ...report.events.map((e) => `    ${clockTime(e.at)} ${e.what}`),
    ...(report.unfired.length > 0 ? [`  never fired: ${report.unfired.join(", ")}`] : [])
  ].join("\n")
