/**
 * Conditions 4 to 6 of a pass: an old agent is upgraded with a way back secured first —
 * left stopped if it was not running (4); downloaded while it runs, then stopped, upgraded and
 * started once idle (5), after waiting for a backup to end (6); rolled back if anything after
 * the stop fails.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { PackageManager } from "../services/PackageManager.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import type { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { holdAgentLock } from "./AgentLock.js"
import { notHealthy, staysRunning } from "./HealthCheck.js"
import { clearJournal, journal, type UpgradeInProgress } from "./Journal.js"
import { PassOutcome } from "./PassOutcome.js"
import type { UnfinishedUpgrade } from "./Recovery.js"
import { restoreRunning, rollBack } from "./Rollback.js"
import { keepPackages, transaction } from "./Transaction.js"

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

/**
 * The upgrade once the agent is stopped, holding its backup lock: the transaction, then (for an
 * agent that ran) the start. The new agent's health is watched afterwards, without the lock.
 */
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
    return version
  })

/**
 * The new agent, up, is watched for the grace period with its backup lock given back, so that
 * backups may start meanwhile; one that does not stay running is rolled back, and the rollback
 * takes the lock again first (waiting, as any upgrade does, for a backup to end).
 */
const watchNewAgent = (upgrade: UpgradeInProgress, version: string) =>
  Effect.gen(function*() {
    const healthy = yield* journal(upgrade).step("health-check", staysRunning).pipe(
      Effect.mapError(afterStopFailure(`the new agent ${version} could not be watched`)),
      Effect.either
    )
    if (Either.isRight(healthy) && healthy.right) return version
    const reason = Either.isLeft(healthy) ? healthy.left : yield* notHealthy(version)
    return yield* rollBack({ ...upgrade, reason, holdsAgentLock: false })
  })

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

/**
 * 6. Busy: waits until the agent releases its backup lock, and holds it for `lockScope` so that no
 * backup starts; shutdowns are held off for the whole upgrade (`Scope` of the caller).
 */
const waitUntilIdle = (upgrade: UpgradeInProgress, lockScope: Scope.Scope) =>
  Effect.zipRight(
    Scope.extend(journal(upgrade).step("lock", holdAgentLock), lockScope),
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
    // The backup lock is held from the wait for an idle agent until the new agent is up, no longer.
    const version = yield* Effect.acquireUseRelease(
      Scope.make(),
      (lockScope) =>
        Effect.gen(function*() {
          yield* waitUntilIdle(upgrade, lockScope)
          stopping = true
          return yield* upgradeIdleAgent(upgrade)
        }),
      (lockScope, exit) => Scope.close(lockScope, exit)
    )
    return yield* watchNewAgent(upgrade, version)
  }).pipe(
    Effect.scoped,
    // Before the stop nothing was changed: a failure there (a download, a backup that went on too long) leaves no journal.
    Effect.onExit((exit): Effect.Effect<void, never, AgentService | StateStore> =>
      Exit.isSuccess(exit) ? Effect.void : stopping ? restoreRunning(Exit.isInterrupted(exit)) : owed ? Effect.void : clearJournal
    )
  )
}

export const upgradeOldAgent = (installed: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
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
