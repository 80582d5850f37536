/**
 * One update pass, in the contract's order: read the published version, make sure
 * the repository is configured and the agent installed, and upgrade an old agent
 * without interrupting a backup or leaving it stopped.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { compareUpstream, isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { holdAgentLock } from "./AgentLock.js"
import { notHealthy, staysRunning } from "./HealthCheck.js"
import { clearJournal, journal, type JournalSteps, type UpgradeInProgress } from "./Journal.js"
import { isUpdater } from "./Pidfile.js"
import { recoverInterruptedUpgrade, type UnfinishedUpgrade } from "./Recovery.js"
import { rememberFailed, restoreRunning, rollBack } from "./Rollback.js"

/** An upgrade of a stopped agent failed, with no package of the previous version to go back to. */
export class UpgradeFailed extends Data.TaggedError("UpgradeFailed")<{ readonly target: string; readonly reason: string }> {
  override get message(): string {
    return `the upgrade to ${this.target} failed (${this.reason}); no package of the previous version was kept to roll back to`
  }
}

/** An agent found stopped was started while its upgrade was prepared. */
export class AgentStartedMeanwhile extends Data.TaggedError("AgentStartedMeanwhile")<{}> {
  override get message(): string {
    return "the agent was started while its upgrade was prepared; the next pass upgrades it as a running agent"
  }
}

/** The agent's package is left half-way, and the version that would mend it is the one that failed. */
export class PackageUnfinished extends Data.TaggedError("PackageUnfinished")<{ readonly version: string; readonly failed: string }> {
  override get message(): string {
    return `the agent's package ${this.version} is left unfinished and cannot be repaired; waiting for a version newer than ${this.failed}`
  }
}

export type PassOutcome = Data.TaggedEnum<{
  UpToDate: { readonly installed: string; readonly published: string }
  Installed: { readonly version: string }
  Upgraded: { readonly from: string; readonly to: string; readonly agentWasRunning: boolean }
  NotOffered: { readonly installed: string; readonly published: string; readonly candidate: string | undefined }
  /** A check that does not upgrade found the agent older than the published version. */
  Behind: { readonly installed: string; readonly published: string }
  /** The agent is older, but the administrator or an earlier failure says to leave it. */
  Skipped: { readonly installed: string; readonly published: string; readonly reason: string }
}>
export const PassOutcome = Data.taggedEnum<PassOutcome>()

export const describeOutcome = PassOutcome.$match({
  UpToDate: ({ installed }) => `up to date (${installed})`,
  Installed: ({ version }) => `installed ${version}`,
  Upgraded: ({ from, to }) => `upgraded ${from} to ${to}`,
  NotOffered: ({ candidate, published }) => `${published} is published but the repository offers ${candidate ?? "no agent"}`,
  Behind: ({ installed, published }) => `${installed} is older than ${published}; upgrade planned`,
  Skipped: ({ reason }) => `left alone: ${reason}`
})

export const ensureRepository = Effect.gen(function*() {
  const packages = yield* PackageManager
  const repository = yield* Repository
  const state = yield* packages.repositoryState
  if (state._tag === "Configured") {
    yield* Effect.logDebug(`agent repository is configured in ${state.file}`)
    return
  }
  yield* Effect.logInfo(`configuring the agent repository ${repository.base}`)
  yield* packages.configureRepository
})

/** A package transaction runs to its end once started: interrupting it could break the package database. */
export const transaction = Effect.gen(function*() {
  const packages = yield* PackageManager
  yield* Effect.uninterruptible(packages.install)
  return yield* packages.installedVersion.pipe(Effect.map(Option.getOrElse(() => "(none)")))
})

const keepPackages = (versions: ReadonlyArray<string>) =>
  Effect.flatMap(PackageManager, (packages) => packages.keepPackages(versions)).pipe(
    Effect.catchAll((error) => Effect.logWarning(error.message))
  )

/**
 * Installs the agent, or finishes a package an earlier transaction left half-way; an agent that
 * ran before that transaction is started again.
 */
const installAgent = (unfinished: Option.Option<string>, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    yield* Option.match(unfinished, {
      onNone: () => Effect.logInfo("the agent is not installed; installing it"),
      onSome: (version) => Effect.logWarning(`the agent ${version} was left half-installed; installing it again`)
    })
    yield* packages.refresh
    // Downloaded first, so that a copy is kept even where the package manager empties its cache.
    const candidate = yield* packages.candidateVersion
    if (Option.isSome(candidate)) {
      yield* packages.download
      yield* keepPackages([candidate.value, ...Option.toArray(Option.map(earlier, ({ entry }) => entry.previous))])
    }
    const version = yield* transaction.pipe(
      // Over a package left half-way, a version that fails too is not tried again until a newer one.
      Effect.tapError((error) =>
        Option.isSome(unfinished) && Option.isSome(candidate) ? rememberFailed(candidate.value, error.message) : Effect.void
      )
    )
    yield* keepPackages([version, ...Option.toArray(Option.map(earlier, ({ entry }) => entry.previous))])
    yield* Effect.logInfo(`installed the agent ${version}`)
    if (Option.isSome(unfinished)) {
      // It may have ran before the transaction that left it half-way: an enabled agent is started.
      const agent = yield* AgentService
      const ran = Option.exists(earlier, ({ entry }) => entry.agentWasRunning) || (yield* agent.isEnabled)
      if (ran && !(yield* agent.isRunning)) yield* agent.start
      yield* clearJournal
    }
    return PassOutcome.Installed({ version })
  })

/** What went wrong after the agent was stopped, in a few words for the rollback. */
const afterStopFailure = (what: string) => (error: { readonly message: string }) => `${what}: ${error.message}`

/** The upgrade once the agent is stopped: transaction, start, health check. Fails with what went wrong. */
const replaceStoppedAgent = (steps: JournalSteps, agentWasRunning: boolean) =>
  Effect.gen(function*() {
    const agent = yield* AgentService
    yield* steps.step("transaction", true)
    const version = yield* transaction.pipe(Effect.mapError(afterStopFailure("the package transaction failed")))
    if (!agentWasRunning) return version
    yield* steps.step("start", true)
    yield* Effect.logInfo("starting the agent")
    yield* agent.start.pipe(Effect.mapError(afterStopFailure(`the new agent ${version} did not start`)))
    if (!(yield* UpdaterConfig).dryRun) {
      yield* steps.step("health-check", true)
      if (!(yield* staysRunning)) return yield* Effect.fail(yield* notHealthy(version))
    }
    return version
  }).pipe(Effect.mapError((failure) => (typeof failure === "string" ? failure : failure.message)))

/**
 * `owed`: an earlier upgrade left an agent that is owed a start; its journal is kept, in this
 * upgrade's, even when this one fails before the stop.
 */
const upgradeRunningAgent = (upgrade: UpgradeInProgress, steps: JournalSteps, owed: boolean) => {
  let stopping = false
  return Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    yield* steps.step("download", false)
    yield* Effect.logInfo("downloading the new agent while the old one keeps running")
    yield* packages.download
    yield* keepPackages([upgrade.target, upgrade.previous])
    // Recorded as held before it is taken: a lock taken by an updater killed right after is given back.
    yield* steps.step("lock", true)
    yield* holdAgentLock
    yield* (yield* ShutdownInhibitor).hold("the backup agent is being upgraded")
    yield* steps.step("stop", true)
    yield* Effect.logInfo("stopping the agent")
    stopping = true
    yield* agent.stop
    return yield* replaceStoppedAgent(steps, true).pipe(
      Effect.catchAll((reason) => rollBack({ ...upgrade, reason, journal: steps, holdsAgentLock: true }))
    )
  }).pipe(
    Effect.scoped,
    // Before the stop nothing was changed: a failure there (a download, a backup that went on too long) leaves no journal.
    Effect.onExit((exit): Effect.Effect<void, never, AgentService | StateStore> =>
      Exit.isSuccess(exit) ? Effect.void : stopping ? restoreRunning : owed ? Effect.void : clearJournal
    )
  )
}

const upgradeStoppedAgent = (upgrade: UpgradeInProgress, steps: JournalSteps) =>
  Effect.gen(function*() {
    yield* Effect.logInfo("the agent is not running; upgrading it and leaving it stopped")
    // No backup starts during the transaction; an agent started since it was found stopped is left to the next pass.
    yield* steps.step("lock", true)
    yield* holdAgentLock
    if (yield* (yield* AgentService).isRunning) {
      yield* clearJournal
      return yield* new AgentStartedMeanwhile()
    }
    return yield* replaceStoppedAgent(steps, false).pipe(
      Effect.catchAll((reason) =>
        Effect.gen(function*() {
          if (upgrade.secured === undefined) return yield* new UpgradeFailed({ target: upgrade.target, reason })
          return yield* rollBack({ ...upgrade, reason, journal: steps, holdsAgentLock: true })
        })
      )
    )
  }).pipe(Effect.scoped)

/** The installed version's package for the way back; none when it cannot be had. */
const securePrevious = (installed: string) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const secured = yield* packages.securePackage(installed).pipe(
      Effect.catchAll((error) => Effect.as(Effect.logWarning(error.message), Option.none()))
    )
    if (Option.isSome(secured)) {
      yield* Effect.logInfo(`secured driveclient ${installed} for a rollback (${secured.value.source}: ${secured.value.file})`)
    }
    return secured
  })

const noWayBack = (installed: string) =>
  `no package of the installed ${installed} can be had for a rollback (none kept, none in the repository or the ` +
  `package cache, none rebuilt); a running agent is not stopped without a way back (--upgrade-without-rollback accepts that)`

/** Why an old agent is to be left as it is, if it is. */
const reasonToLeaveAlone = (published: string) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    const { failedVersion } = yield* (yield* StateStore).get
    if (yield* packages.isHeld) return Option.some("the administrator holds the driveclient package at its version")
    if (failedVersion !== undefined && compareUpstream(published, failedVersion.version) <= 0) {
      return Option.some(
        `${failedVersion.version} failed and was rolled back (${failedVersion.reason}); waiting for a newer version`
      )
    }
    if (!(yield* agent.isEnabled) && !(yield* agent.isRunning)) {
      return Option.some("the agent's service is disabled and the agent is stopped")
    }
    return Option.none<string>()
  })

/**
 * Upgrades an old agent. After an earlier upgrade that could not be finished, the newer version
 * goes over what it left: the way back is still to its previous version, and an agent that ran
 * then is started.
 */
const upgradeAgent = (installed: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    const agent = yield* AgentService
    yield* Effect.logInfo(`the agent ${installed} is older than the published ${published}`)
    yield* packages.refresh
    const offered = yield* packages.candidateVersion
    // A dry run does not refresh the package lists, so the repository's newest is not known.
    const candidate = config.dryRun ? Option.orElse(offered, () => Option.some(published)) : offered
    if (Option.isNone(candidate) || isUpToDate(installed, upstreamOf(candidate.value))) {
      yield* Effect.logWarning(
        `the repository offers ${Option.getOrElse(candidate, () => "no agent")}, not ${published}; nothing to do`
      )
      return PassOutcome.NotOffered({ installed, published, candidate: Option.getOrUndefined(candidate) })
    }
    const target = candidate.value
    const before = Option.map(earlier, ({ entry }) => entry)
    const previous = Option.match(before, { onNone: () => installed, onSome: (entry) => entry.previous })
    const running = (yield* agent.isRunning) || Option.exists(before, (entry) => entry.agentWasRunning)
    yield* journal({ previous, target, agentWasRunning: running }).step("secure", false)
    const secured = yield* Option.match(Option.flatMapNullable(before, (entry) => entry.secured), {
      onNone: () => securePrevious(previous),
      onSome: (kept) => Effect.succeed(Option.some(kept))
    })
    if (Option.isNone(secured) && running && !config.upgradeWithoutRollback) {
      yield* clearJournal
      const reason = noWayBack(previous)
      yield* Effect.logWarning(`the agent ${installed} is older than ${published}, but ${reason}`)
      return PassOutcome.Skipped({ installed, published, reason })
    }
    const upgrade: UpgradeInProgress = { previous, target, agentWasRunning: running, secured: Option.getOrUndefined(secured) }
    const steps = journal(upgrade)
    const version = running ? yield* upgradeRunningAgent(upgrade, steps, Option.isSome(earlier)) : yield* upgradeStoppedAgent(upgrade, steps)
    yield* clearJournal
    if (config.dryRun) {
      yield* Effect.logInfo(`dry run: the agent would be upgraded from ${installed} to ${target}; nothing was changed`)
      return PassOutcome.Upgraded({ from: installed, to: target, agentWasRunning: running })
    }
    yield* keepPackages([version, previous])
    yield* Effect.logInfo(`upgraded the agent from ${installed} to ${version}`)
    return PassOutcome.Upgraded({ from: installed, to: version, agentWasRunning: running })
  })

/**
 * The agent's package as the pass goes on from: one an earlier transaction left half-way is
 * repaired first, and if it cannot be, it is reported as unfinished — never as up to date.
 */
const installedAgent =
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const found = yield* packages.installedState
    if (Option.isNone(found) || !found.value.unfinished) return found
    yield* Effect.logWarning(`the agent's package ${found.value.version} was left half-way by an earlier transaction; repairing it`)
    yield* Effect.uninterruptible(packages.repair).pipe(Effect.catchAll((error) => Effect.logError(error.message)))
    return yield* packages.installedState
  })

export interface PassOptions {
  /** Upgrade an old agent; when false, the pass reports `Behind` instead (the daemon's rollout delay). */
  readonly upgrade: boolean
}

const passOnce = (options: PassOptions) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const repository = yield* Repository
    yield* FileLock.acquireScoped(config.passLock, {
      poll: config.lockPoll,
      // Only an updater writes this lock: anything else in it (a dead pid, a reused one, no pid) is stale.
      owns: isUpdater,
      onWait: (pid) => Effect.logInfo(`another update pass (pid ${pid ?? "?"}) is running; waiting for it`)
    })
    const earlier = yield* recoverInterruptedUpgrade
    // What is left of an earlier upgrade fails a pass that has nothing more to do: its journal stays.
    const done = (outcome: PassOutcome) =>
      Option.match(earlier, { onNone: () => Effect.succeed(outcome), onSome: ({ error }) => Effect.fail(error) })
    const published = yield* repository.latestVersion
    yield* Effect.logDebug(`${repository.base}/version.txt names ${published}`)
    yield* ensureRepository
    const agent = yield* installedAgent
    if (Option.isNone(agent)) return yield* installAgent(Option.none(), earlier)
    if (agent.value.unfinished) {
      // The repair has done what installing that version again could: only a newer one can mend it.
      const failed = (yield* (yield* StateStore).get).failedVersion?.version
      const newest = [upstreamOf(agent.value.version), ...(failed === undefined ? [] : [failed])]
      if (newest.some((version) => compareUpstream(published, version) <= 0)) {
        return yield* Option.match(earlier, {
          onNone: () => Effect.fail(new PackageUnfinished({ version: agent.value.version, failed: failed ?? upstreamOf(agent.value.version) })),
          onSome: ({ error }) => Effect.fail(error)
        })
      }
      return yield* installAgent(Option.some(agent.value.version), earlier)
    }
    const installed = agent.value.version
    if (isUpToDate(installed, published)) {
      yield* Effect.logInfo(`the agent ${installed} is up to date (published: ${published})`)
      return yield* done(PassOutcome.UpToDate({ installed, published }))
    }
    const reason = yield* reasonToLeaveAlone(published)
    if (Option.isSome(reason)) {
      yield* Effect.logWarning(`the agent ${installed} is older than ${published}, but ${reason.value}`)
      return yield* done(PassOutcome.Skipped({ installed, published, reason: reason.value }))
    }
    if (!options.upgrade) return yield* done(PassOutcome.Behind({ installed, published }))
    return yield* upgradeAgent(installed, published, earlier).pipe(
      Effect.flatMap((outcome) => (outcome._tag === "Upgraded" ? Effect.succeed(outcome) : done(outcome)))
    )
  }).pipe(Effect.scoped)

/** One pass, its result remembered as the last check or the last error. */
export const pass = (options: PassOptions) =>
  Effect.gen(function*() {
    const store = yield* StateStore
    const remember = (f: (at: number) => Parameters<typeof store.update>[0]) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => store.update(f(at))).pipe(
        Effect.catchAll((error) => Effect.logWarning(error.message))
      )
    return yield* passOnce(options).pipe(
      Effect.tap((outcome) => remember((at) => (s) => ({ ...s, lastCheck: { at, result: describeOutcome(outcome) } }))),
      Effect.tapError((error) => remember((at) => (s) => ({ ...s, lastError: { at, message: error.message } })))
    )
  })

export const updatePass = pass({ upgrade: true })
