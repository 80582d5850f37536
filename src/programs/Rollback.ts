/**
 * The way back from a failed upgrade: the package of the previous version,
 * secured on disk before the agent was stopped, is installed again under the
 * agent's backup lock, the old agent is started and watched, and the failed
 * version is remembered so that it is not tried again until a newer one is
 * published. A rollback that cannot be done is recorded too; its journal stays
 * for the next pass to try again, and never keeps a newer version from being
 * installed (see Recovery).
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { PackageManager, type SecuredPackage } from "../services/PackageManager.js"
import { StateStore } from "../services/StateStore.js"
import { holdAgentLock } from "./AgentLock.js"
import { startAndWatch } from "./HealthCheck.js"
import { clearJournal, journal, owedStart } from "./Journal.js"

/** The upgrade failed and the previous version runs again (or stays stopped, as it was). */
export class UpgradeRolledBack extends Data.TaggedError("UpgradeRolledBack")<{
  readonly target: string
  readonly previous: string
  readonly reason: string
  readonly agentRunning: boolean
}> {
  override get message(): string {
    return `the upgrade to ${this.target} failed (${this.reason}); rolled back to ${this.previous}` +
      (this.agentRunning ? ", which is running again" : ", left stopped as it was")
  }
}

/** The upgrade failed and the previous version could not be restored. */
export class RollbackFailed extends Data.TaggedError("RollbackFailed")<{
  readonly target: string
  readonly previous: string
  readonly reason: string
  readonly detail: string
  /** Whether it is given up (no package to go back to, or tried too often), or tried again by the next pass. */
  readonly givenUp: boolean
}> {
  override get message(): string {
    return `the upgrade to ${this.target} failed (${this.reason}), and rolling back to ${this.previous} failed too: ${this.detail}` +
      (this.givenUp ? "; the rollback is given up" : "")
  }
}

/** A rollback that keeps failing is given up after this many tries, so that it never keeps failing every pass. */
export const MAX_ROLLBACKS = 3

export interface RollbackPlan {
  readonly previous: string
  readonly target: string
  /** The previous version's package; none when the upgrade went ahead without one. */
  readonly secured?: SecuredPackage | undefined
  readonly agentWasRunning: boolean
  /** What failed, in a few words. */
  readonly reason: string
  /** Rollbacks of this upgrade tried before. */
  readonly rollbacks?: number | undefined
  /** Whether the caller already holds the agent's backup lock; else the rollback takes it first. */
  readonly holdsAgentLock: boolean
}

/** Starts the agent again after a failed or interrupted (`interrupted`) upgrade, if it is not running. */
export const restoreRunning = (interrupted: boolean) => Effect.gen(function*() {
  const agent = yield* AgentService
  if (yield* agent.isRunning) return
  yield* Effect.logWarning(`starting the agent again after the ${interrupted ? "interrupted" : "failed"} upgrade`)
  yield* agent.start
}).pipe(Effect.catchAll((error) => Effect.logError(`the agent could not be started again: ${error.message}`)))

/**
 * Records a version whose upgrade failed: it is not tried again until a newer one is published.
 * `rolledBack`: a rollback was done for it, which the count of rollbacks (the metrics) takes in.
 */
export const rememberFailed = (target: string, reason: string, options: { readonly rolledBack?: boolean } = {}) =>
  Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    yield* (yield* StateStore).update((state) => ({
      ...state,
      failedVersion: { version: upstreamOf(target), at, reason },
      ...(options.rolledBack === true ? { rollbacksDone: (state.rollbacksDone ?? 0) + 1 } : {})
    }))
  }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))

/**
 * Closes the journal of a rollback that is given up. An agent that ran is still owed a start:
 * the journal becomes one of the version now installed, which later passes start (see Recovery).
 */
const giveUp = (plan: RollbackPlan) =>
  Effect.gen(function*() {
    const installed = yield* (yield* PackageManager).installedState.pipe(Effect.orElseSucceed(() => Option.none()))
    // A package left unfinished is the pass's to mend (it installs a newer version over it, and starts it).
    if (!plan.agentWasRunning || Option.isNone(installed) || installed.value.unfinished) return yield* clearJournal
    yield* owedStart(installed.value.version)
  }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))

/**
 * Installs the previous version again and starts it if it ran; always fails, saying how it
 * ended. The journal is closed once the previous version runs (or stays stopped, as it was).
 */
export const rollBack = (plan: RollbackPlan) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    const rollbacks = (plan.rollbacks ?? 0) + 1
    yield* journal({ ...plan, rollbacks }).step("rollback", plan.holdsAgentLock ? Effect.void : holdAgentLock)
    yield* Effect.logError(`${plan.reason}; rolling back to ${plan.previous}`)
    if (yield* agent.isRunning.pipe(Effect.orElseSucceed(() => true))) {
      yield* agent.stop.pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
    }
    if (plan.secured === undefined) {
      // No package was kept (an upgrade of a stopped agent, or a journal from an older updater): the repository's will do.
      yield* packages.refresh.pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
    }
    const restored = yield* Effect.either(Effect.uninterruptible(
      plan.secured === undefined
        ? packages.installVersion(plan.previous)
        : packages.restore(plan.secured, plan.previous)
    ))
    if (Either.isLeft(restored)) {
      // At least a consistent package database, and an agent if one ran.
      yield* Effect.uninterruptible(packages.repair).pipe(Effect.catchAll((error) => Effect.logError(error.message)))
    }
    const notRunning = plan.agentWasRunning
      ? Option.map(yield* startAndWatch(plan.previous), (problem) => `it was restored, but ${problem}`)
      : Option.none<string>()
    // Done, whether or not the previous version runs again: counted.
    yield* rememberFailed(plan.target, plan.reason, { rolledBack: true })
    if (Either.isLeft(restored) || Option.isSome(notRunning)) {
      // The journal stays: the next pass tries the rollback again, and a newer version, once
      // published, is installed over what is left (see Recovery).
      const detail = Either.isLeft(restored) ? restored.left.message : Option.getOrElse(notRunning, () => "")
      const givenUp = (Either.isLeft(restored) && plan.secured === undefined) || rollbacks >= MAX_ROLLBACKS
      if (givenUp) yield* giveUp(plan)
      return yield* new RollbackFailed({ target: plan.target, previous: plan.previous, reason: plan.reason, detail, givenUp })
    }
    yield* clearJournal
    yield* Effect.logWarning(`rolled back to ${plan.previous}${plan.agentWasRunning ? "; the agent runs again" : ""}`)
    return yield* new UpgradeRolledBack({
      target: plan.target,
      previous: plan.previous,
      reason: plan.reason,
      agentRunning: plan.agentWasRunning
    })
  }).pipe(
    Effect.scoped,
    // Stopped while it waits for the backup lock: the agent that ran is not left stopped.
    Effect.onInterrupt(() => (plan.agentWasRunning ? restoreRunning(true) : Effect.void))
  )
