/**
 * One update pass, in the contract's order: read the published version, then
 *   1. the repository is configured,
 *   2. the agent is installed,
 *   3. an agent that is up to date is left untouched,
 *   4. an old agent that is not running is upgraded and left stopped,
 *   5. an old, running, idle agent is upgraded (downloaded first, then stopped, upgraded, started),
 *   6. an old, running, busy agent is waited for, holding its lock once released, then as in 5.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { reasonsToLeaveAlone } from "../domain/LeaveAlone.js"
import { compareUpstream, isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import { StateStore, type UpdaterState } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { holdAgentLock } from "./AgentLock.js"
import { notHealthy, staysRunning } from "./HealthCheck.js"
import { describeDefect } from "./ExitCode.js"
import { clearJournal, journal, type UpgradeInProgress } from "./Journal.js"
import * as NotBefore from "./NotBefore.js"
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

/** The version an earlier, unfinished upgrade went from: its package is kept too. */
const earlierPrevious = (earlier: Option.Option<UnfinishedUpgrade>) => Option.toArray(Option.map(earlier, ({ entry }) => entry.previous))

// 1. The repository is configured.

export const ensureRepository = Effect.gen(function*() {
  const packages = yield* PackageManager
  const state = yield* packages.repositoryState
  if (state._tag === "Configured") {
    yield* Effect.logDebug(`agent repository is configured in ${state.file}`)
    return
  }
  yield* Effect.logInfo(`configuring the agent repository ${(yield* Repository).base}`)
  yield* packages.configureRepository
})

// 2. The agent is installed.

/**
 * The agent's package as the pass goes on from: one an earlier transaction left half-way is
 * repaired first, and if it cannot be, it is reported as unfinished — never as up to date.
 */
const installedAgent = Effect.gen(function*() {
  const packages = yield* PackageManager
  const found = yield* packages.installedState
  if (Option.isNone(found) || !found.value.unfinished) return found
  yield* Effect.logWarning(`the agent's package ${found.value.version} was left half-way by an earlier transaction; repairing it`)
  yield* Effect.uninterruptible(packages.repair).pipe(Effect.catchAll((error) => Effect.logError(error.message)))
  return yield* packages.installedState
})

/**
 * Installs the agent, or finishes a package an earlier transaction left half-way (`unfinished`,
 * its version); an agent that ran before that transaction is started again.
 */
const installAgent = (unfinished: Option.Option<string>, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    yield* packages.refresh
    // Downloaded first, so that a copy is kept even where the package manager empties its cache.
    const candidate = yield* packages.candidateVersion
    if (Option.isSome(candidate)) {
      yield* packages.download
      yield* keepPackages([candidate.value, ...earlierPrevious(earlier)])
    }
    const version = yield* transaction.pipe(
      // Over a package left half-way, a version that fails too is not tried again until a newer one.
      Effect.tapError((error) =>
        Option.isSome(unfinished) && Option.isSome(candidate) ? rememberFailed(candidate.value, error.message) : Effect.void
      )
    )
    yield* keepPackages([version, ...earlierPrevious(earlier)])
    yield* Effect.logInfo(`installed the agent ${version}`)
    if (Option.isSome(unfinished)) {
      // It may have run before the transaction that left it half-way: an enabled agent is started.
      const agent = yield* AgentService
      const ran = Option.exists(earlier, ({ entry }) => entry.agentWasRunning) || (yield* agent.isEnabled)
      if (ran && !(yield* agent.isRunning)) yield* agent.start
      yield* clearJournal
    }
    return PassOutcome.Installed({ version })
  })

const installMissingAgent = (earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.zipRight(Effect.logInfo("the agent is not installed; installing it"), installAgent(Option.none(), earlier))

/** A package the repair could not finish: only a version newer than it (and than a failed one) can mend it. */
const mendUnfinishedAgent = (version: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const failed = (yield* (yield* StateStore).get).failedVersion?.version
    const newest = [upstreamOf(version), ...(failed === undefined ? [] : [failed])]
    if (newest.some((v) => compareUpstream(published, v) <= 0)) {
      return yield* Option.match(earlier, {
        onNone: () => Effect.fail(new PackageUnfinished({ version, failed: failed ?? upstreamOf(version) })),
        onSome: ({ error }) => Effect.fail(error)
      })
    }
    yield* Effect.logWarning(`the agent ${version} was left half-installed; installing it again`)
    return yield* installAgent(Option.some(version), earlier)
  })

// 3. An agent that is up to date is left untouched; so is one the rules say to leave alone.

const upToDate = (installed: string, published: string) =>
  Effect.as(
    Effect.logInfo(`the agent ${installed} is up to date (published: ${published})`),
    PassOutcome.UpToDate({ installed, published })
  )

/** Why an old agent is to be left as it is, if it is; the agent's state is read only when it matters. */
const reasonToLeaveAlone = (published: string) =>
  Effect.gen(function*() {
    const agent = yield* AgentService
    const facts = {
      published,
      held: yield* (yield* PackageManager).isHeld,
      failedVersion: (yield* (yield* StateStore).get).failedVersion
    }
    const known = reasonsToLeaveAlone(facts)
    if (known.length > 0) return Option.some(known[0]!.text)
    const serviceEnabled = yield* agent.isEnabled
    const running = serviceEnabled ? undefined : yield* agent.isRunning
    return Option.map(Option.fromNullable(reasonsToLeaveAlone({ ...facts, serviceEnabled, running })[0]), (r) => r.text)
  })

// 4–6. An old agent is upgraded.

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

const notNow = (outcome: PassOutcome): Either.Either<UpgradeInProgress, PassOutcome> => Either.left(outcome)

/**
 * What the upgrade goes to and back to: the repository's newest version, and the installed
 * version's package secured for a rollback. After an earlier upgrade that could not be finished,
 * the way back is still to its previous version, and an agent that ran then counts as running.
 * An outcome instead when there is nothing to upgrade to, or no way back for a running agent.
 */
const prepareUpgrade = (installed: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    yield* Effect.logInfo(`the agent ${installed} is older than the published ${published}`)
    yield* packages.refresh
    const candidate = yield* packages.candidateVersion
    if (Option.isNone(candidate) || isUpToDate(installed, upstreamOf(candidate.value))) {
      yield* Effect.logWarning(
        `the repository offers ${Option.getOrElse(candidate, () => "no agent")}, not ${published}; nothing to do`
      )
      return notNow(PassOutcome.NotOffered({ installed, published, candidate: Option.getOrUndefined(candidate) }))
    }
    const target = candidate.value
    const before = Option.map(earlier, ({ entry }) => entry)
    const previous = Option.match(before, { onNone: () => installed, onSome: (entry) => entry.previous })
    const running = (yield* (yield* AgentService).isRunning) || Option.exists(before, (entry) => entry.agentWasRunning)
    const secured = yield* journal({ previous, target, agentWasRunning: running }).step(
      "secure",
      Option.match(Option.flatMapNullable(before, (entry) => entry.secured), {
        onNone: () => securePrevious(previous),
        onSome: (kept) => Effect.succeed(Option.some(kept))
      })
    )
    if (Option.isNone(secured) && running && !config.upgradeWithoutRollback) {
      yield* clearJournal
      const reason = noWayBack(previous)
      yield* Effect.logWarning(`the agent ${installed} is older than ${published}, but ${reason}`)
      return notNow(PassOutcome.Skipped({ installed, published, reason }))
    }
    const upgrade: UpgradeInProgress = { previous, target, agentWasRunning: running, secured: Option.getOrUndefined(secured) }
    return Either.right(upgrade)
  })

/** What went wrong after the agent was stopped, in a few words for the rollback. */
const afterStopFailure = (what: string) => (error: { readonly message: string }) => `${what}: ${error.message}`

/** The upgrade once the agent is stopped: transaction, then (for an agent that ran) start and health check. */
const replaceStoppedAgent = (upgrade: UpgradeInProgress) =>
  Effect.gen(function*() {
    const agent = yield* AgentService
    const steps = journal(upgrade)
    const version = yield* steps.step("transaction", transaction).pipe(
      Effect.mapError(afterStopFailure("the package transaction failed"))
    )
    if (!upgrade.agentWasRunning) return version
    yield* steps.step("start", Effect.zipRight(Effect.logInfo("starting the agent"), agent.start)).pipe(
      Effect.mapError(afterStopFailure(`the new agent ${version} did not start`))
    )
    const healthy = yield* steps.step("health-check", staysRunning)
    if (!healthy) return yield* Effect.fail(yield* notHealthy(version))
    return version
  }).pipe(Effect.mapError((failure) => (typeof failure === "string" ? failure : failure.message)))

/** 4. Not running: upgraded holding the backup lock, so that no backup starts during the transaction; left stopped. */
const upgradeStoppedAgent = (upgrade: UpgradeInProgress) =>
  Effect.gen(function*() {
    yield* Effect.logInfo("the agent is not running; upgrading it and leaving it stopped")
    yield* journal(upgrade).step("lock", holdAgentLock)
    // An agent started since it was found stopped is left to the next pass.
    if (yield* (yield* AgentService).isRunning) {
      yield* clearJournal
      return yield* new AgentStartedMeanwhile()
    }
    return yield* replaceStoppedAgent(upgrade).pipe(
      Effect.catchAll((reason) =>
        Effect.gen(function*() {
          if (upgrade.secured === undefined) return yield* new UpgradeFailed({ target: upgrade.target, reason })
          return yield* rollBack({ ...upgrade, reason, holdsAgentLock: true })
        })
      )
    )
  }).pipe(Effect.scoped)

/** 6. Busy: waits until the agent releases its backup lock, and holds it for the scope so that no backup starts. */
const waitUntilIdle = (upgrade: UpgradeInProgress) =>
  Effect.zipRight(
    journal(upgrade).step("lock", holdAgentLock),
    Effect.flatMap(ShutdownInhibitor, (inhibitor) => inhibitor.hold("the backup agent is being upgraded"))
  )

/** 5. Idle (its backup lock held): stopped, upgraded and started; rolled back if any of that fails. */
const upgradeIdleAgent = (upgrade: UpgradeInProgress) =>
  Effect.gen(function*() {
    yield* journal(upgrade).step("stop", Effect.zipRight(Effect.logInfo("stopping the agent"), (yield* AgentService).stop))
    return yield* replaceStoppedAgent(upgrade).pipe(
      Effect.catchAll((reason) => rollBack({ ...upgrade, reason, holdsAgentLock: true }))
    )
  })

/**
 * 5 and 6. Running: the new package is downloaded while the old agent keeps running, then the
 * agent is upgraded once idle. `owed`: an earlier upgrade left an agent that is owed a start; its
 * journal is kept, in this upgrade's, even when this one fails before the stop.
 */
const upgradeRunningAgent = (upgrade: UpgradeInProgress, owed: boolean) => {
  let stopping = false
  return Effect.gen(function*() {
    yield* journal(upgrade).step(
      "download",
      Effect.zipRight(
        Effect.logInfo("downloading the new agent while the old one keeps running"),
        Effect.flatMap(PackageManager, (packages) => packages.download)
      )
    )
    yield* keepPackages([upgrade.target, upgrade.previous])
    yield* waitUntilIdle(upgrade)
    stopping = true
    return yield* upgradeIdleAgent(upgrade)
  }).pipe(
    Effect.scoped,
    // Before the stop nothing was changed: a failure there (a download, a backup that went on too long) leaves no journal.
    Effect.onExit((exit): Effect.Effect<void, never, AgentService | StateStore> =>
      Exit.isSuccess(exit) ? Effect.void : stopping ? restoreRunning : owed ? Effect.void : clearJournal
    )
  )
}

const upgradeOldAgent = (installed: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const prepared = yield* prepareUpgrade(installed, published, earlier)
    if (Either.isLeft(prepared)) return prepared.left
    const upgrade = prepared.right
    const version = upgrade.agentWasRunning
      ? yield* upgradeRunningAgent(upgrade, Option.isSome(earlier))
      : yield* upgradeStoppedAgent(upgrade)
    yield* clearJournal
    yield* keepPackages([version, upgrade.previous])
    yield* Effect.logInfo(`upgraded the agent from ${installed} to ${version}`)
    return PassOutcome.Upgraded({ from: installed, to: version, agentWasRunning: upgrade.agentWasRunning })
  })

export interface PassOptions {
  /** Upgrade an old agent; when false, the pass reports `Behind` instead (the daemon's rollout delay). */
  readonly upgrade: boolean
}

const holdPassLock = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  yield* FileLock.acquireScoped(config.passLock, {
    poll: config.lockPoll,
    // Only an updater writes this lock: anything else in it (a dead pid, a reused one, no pid) is stale.
    owns: isUpdater,
    onWait: (pid) => Effect.logInfo(`another update pass (pid ${pid ?? "?"}) is running; waiting for it`)
  })
})

const publishedVersion = Effect.gen(function*() {
  const repository = yield* Repository
  const published = yield* repository.latestVersion
  yield* Effect.logDebug(`${repository.base}/version.txt names ${published}`)
  return published
})

const passOnce = (options: PassOptions) =>
  Effect.gen(function*() {
    yield* holdPassLock
    const earlier = yield* recoverInterruptedUpgrade
    // What is left of an earlier upgrade fails a pass that has nothing more to do: its journal stays.
    const done = (outcome: PassOutcome) =>
      Option.match(earlier, { onNone: () => Effect.succeed(outcome), onSome: ({ error }) => Effect.fail(error) })
    const published = yield* publishedVersion

    yield* ensureRepository
    const agent = yield* installedAgent
    if (Option.isNone(agent)) return yield* installMissingAgent(earlier)
    if (agent.value.unfinished) return yield* mendUnfinishedAgent(agent.value.version, published, earlier)
    const installed = agent.value.version
    if (isUpToDate(installed, published)) return yield* Effect.flatMap(upToDate(installed, published), done)
    const reason = yield* reasonToLeaveAlone(published)
    if (Option.isSome(reason)) {
      yield* Effect.logWarning(`the agent ${installed} is older than ${published}, but ${reason.value}`)
      return yield* done(PassOutcome.Skipped({ installed, published, reason: reason.value }))
    }
    if (!options.upgrade) return yield* done(PassOutcome.Behind({ installed, published }))
    const outcome = yield* upgradeOldAgent(installed, published, earlier)
    return outcome._tag === "Upgraded" ? outcome : yield* done(outcome)
  }).pipe(Effect.scoped)

/** Saves `f` of the state at the current time; a state that cannot be saved is only a warning. */
const remember = (f: (at: number) => (state: UpdaterState) => UpdaterState) =>
  Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.flatMap(StateStore, (store) => store.update(f(at)))).pipe(
    Effect.catchAll((error) => Effect.logWarning(error.message))
  )

/** Remembers a defect as the last error, as a failed pass is. */
export const rememberDefect = (cause: Cause.Cause<never>) =>
  remember((at) => (state) => ({ ...state, lastError: { at, message: describeDefect(cause) } }))

/** A failure is the last error, and a `Retry-After` it carries is the repository's not-before time. */
const rememberFailure = (error: { readonly message: string }) =>
  remember((at) => (state) => ({
    ...state,
    lastError: { at, message: error.message },
    ...Option.match(NotBefore.afterFailure(error, at), { onNone: () => ({}), onSome: (notBefore) => ({ notBefore }) })
  }))

const rememberOutcome = (outcome: PassOutcome) =>
  remember((at) => ({ notBefore: _, ...state }) => ({ ...state, lastCheck: { at, result: describeOutcome(outcome) } }))

/**
 * One pass, its result remembered as the last check or the last error (a defect too). It does not
 * start before the repository's not-before time.
 */
export const pass = (options: PassOptions) =>
  Effect.zipRight(
    NotBefore.check,
    passOnce(options).pipe(Effect.tap(rememberOutcome), Effect.tapError(rememberFailure), Effect.tapDefect(rememberDefect))
  )

export const updatePass = pass({ upgrade: true })
