/**
 * The upgrade journal: written before each step of an upgrade, cleared when the
 * upgrade ends either way. A journal left by an updater that died half-way is
 * found by the next pass, which repairs the package state, gives back the
 * backup lock the dead updater held, and starts the agent if it was running.
 */
import * as Effect from "effect/Effect"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { type JournalEntry, type JournalStep, StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "./../services/UpdaterConfig.js"

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

/** Run under the pass lock: a journal of another pid is one whose updater is gone. */
export const recoverInterruptedUpgrade = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  const { journal } = yield* (yield* StateStore).get
  if (journal === undefined || journal.pid === config.pid) return
  const packages = yield* PackageManager
  const agent = yield* AgentService
  const locks = yield* FileLock
  yield* Effect.logWarning(
    `recovering from an upgrade of the agent ${journal.previous} to ${journal.target} that was interrupted ` +
      `before its "${journal.step}" step (pid ${journal.pid} is gone)`
  )
  const repaired = yield* packages.repair
  if (repaired._tag === "Some") yield* Effect.logInfo(`repaired the interrupted package transaction: ${repaired.value}`)
  if (journal.holdsAgentLock && (yield* locks.breakStale(config.agentLock, (holder) => holder.pid !== journal.pid))) {
    yield* Effect.logInfo(`released the backup lock ${config.agentLock} that pid ${journal.pid} held`)
  }
  if (journal.agentWasRunning && !(yield* agent.isRunning)) {
    yield* Effect.logInfo("starting the agent, which was running before the interrupted upgrade")
    yield* agent.start
  }
  yield* clearJournal
})
