/**
 * The upgrade journal in the state file: written before each step of an upgrade,
 * cleared when the upgrade succeeds or a rollback has ended. A journal found at
 * the start of a pass belongs to an upgrade that died half-way (see Recovery).
 */
import * as Effect from "effect/Effect"
import type { SecuredPackage } from "../services/PackageManager.js"
import { type JournalEntry, type JournalStep, StateStore, type StateStoreError } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export interface UpgradeInProgress {
  readonly previous: string
  readonly target: string
  readonly agentWasRunning: boolean
  /** The previous version's package, once it is secured. */
  readonly secured?: SecuredPackage | undefined
  /** Rollbacks of this upgrade tried so far. */
  readonly rollbacks?: number | undefined
}

export interface JournalSteps {
  /** Records that `step` is about to run; a rollback counts its tries. */
  readonly step: (
    step: JournalStep,
    holdsAgentLock: boolean,
    rollbacks?: number
  ) => Effect.Effect<void, StateStoreError, StateStore | UpdaterConfig>
}

export const journal = (upgrade: UpgradeInProgress): JournalSteps => ({
  step: (step, holdsAgentLock, rollbacks = upgrade.rollbacks) =>
    Effect.gen(function*() {
      const { pid } = yield* UpdaterConfig
      const entry: JournalEntry = {
        previous: upgrade.previous,
        target: upgrade.target,
        agentWasRunning: upgrade.agentWasRunning,
        secured: upgrade.secured,
        rollbacks,
        pid,
        step,
        holdsAgentLock
      }
      yield* (yield* StateStore).update((state) => ({ ...state, journal: entry }))
    })
})

export const clearJournal = Effect.gen(function*() {
  yield* (yield* StateStore).update(({ journal: _, ...state }) => state)
}).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
