/**
 * The upgrade journal: written before each step of an upgrade, cleared when the
 * upgrade succeeds. A journal found at the start of a pass — under the pass lock,
 * so its updater has ended — belongs to an upgrade that died half-way or failed:
 * the pass repairs the package state, gives back the backup lock that updater
 * held, starts the agent if it was running, and checks that an agent started by
 * that upgrade stays running (else rolls it back).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { type JournalEntry, type JournalStep, StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { rollBackUnlessHealthy } from "./HealthCheck.js"

export interface UpgradeInProgress {
  readonly previous: string
  readonly target: string
  readonly agentWasRunning: boolean
}

/** Records that `step` is about to run. */
export const journalStep = (upgrade: UpgradeInProgress) => (step: JournalStep, holdsAgentLock: boolean) =>
  Effect.gen(function*() {
    const { pid } = yield* UpdaterConfig
    const entry: JournalEntry = { pid, step, holdsAgentLock, ...upgrade }
    yield* (yield* StateStore).update((state) => ({ ...state, journal: entry }))
  })

export const clearJournal = Effect.gen(function*() {
  yield* (yield* StateStore).update(({ journal: _, ...state }) => state)
}).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))

/** Steps after which the new agent may have been started without its health check finishing. */
const AFTER_START: ReadonlySet<JournalStep> = new Set(["start", "health-check", "rollback"])

export const recoverInterruptedUpgrade = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  const { journal } = yield* (yield* StateStore).get
  if (journal === undefined) return
  const packages = yield* PackageManager
  const agent = yield* AgentService
  const locks = yield* FileLock
  yield* Effect.logWarning(
    `finishing an upgrade of the agent ${journal.previous} to ${journal.target} (pid ${journal.pid}) ` +
      `that ended before its "${journal.step}" step`
  )
  // The lock and the agent come back even when the package state cannot be repaired.
  const repaired = yield* Effect.either(packages.repair)
  if (Either.isRight(repaired) && Option.isSome(repaired.right)) {
    yield* Effect.logInfo(`repaired the interrupted package transaction: ${repaired.right.value}`)
  }
  if (journal.holdsAgentLock && (yield* locks.breakStale(config.agentLock, (holder) => holder.pid !== journal.pid))) {
    yield* Effect.logInfo(`released the backup lock ${config.agentLock} that pid ${journal.pid} held`)
  }
  if (journal.agentWasRunning && !(yield* agent.isRunning)) {
    yield* Effect.logInfo("starting the agent, which was running before the upgrade")
    yield* agent.start.pipe(Effect.catchAll((error) => Effect.logError(error.message)))
  }
  if (Either.isLeft(repaired)) return yield* repaired.left
  const installed = yield* packages.installedVersion
  if (
    journal.agentWasRunning && AFTER_START.has(journal.step) &&
    Option.isSome(installed) && installed.value !== journal.previous
  ) {
    yield* rollBackUnlessHealthy({
      previous: journal.previous,
      target: installed.value,
      step: journalStep({ previous: journal.previous, target: journal.target, agentWasRunning: true })
    })
  }
  yield* clearJournal
})
