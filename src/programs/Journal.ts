/**
 * The upgrade journal in the state file: each step of an upgrade is named there
 * before it runs, and the journal is cleared when the upgrade succeeds or a
 * rollback has ended. A journal found at the start of a pass belongs to an
 * upgrade that died half-way (see Recovery).
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

/**
 * Whether the updater holds the agent's backup lock during each step. The lock step counts
 * as holding it: a lock taken by an updater killed right after is then given back.
 */
const HOLDS_AGENT_LOCK: Readonly<Record<JournalStep, boolean>> = {
  secure: false,
  download: false,
  lock: true,
  stop: true,
  transaction: true,
  start: true,
  // The new agent is up: its lock is given back while its health is watched.
  "health-check": false,
  rollback: true
}

/** Writes the journal entry, and returns it. */
const write = (fields: Omit<JournalEntry, "pid">) =>
  Effect.gen(function*() {
    const entry: JournalEntry = { ...fields, pid: (yield* UpdaterConfig).pid }
    yield* (yield* StateStore).update((state) => ({ ...state, journal: entry }))
    return entry
  })

export interface JournalSteps {
  /** Runs `effect` as `step` of the upgrade: the journal names the step before it starts. */
  readonly step: <A, E, R>(
    step: JournalStep,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | StateStoreError, R | StateStore | UpdaterConfig>
}

export const journal = (upgrade: UpgradeInProgress): JournalSteps => ({
  step: (step, effect) =>
    Effect.zipRight(
      write({
        previous: upgrade.previous,
        target: upgrade.target,
        agentWasRunning: upgrade.agentWasRunning,
        secured: upgrade.secured,
        rollbacks: upgrade.rollbacks,
        step,
        holdsAgentLock: HOLDS_AGENT_LOCK[step]
      }),
      effect
    )
})

/**
 * Writes a journal that only says the agent of `version`, which ran, is owed a start: what is left of
 * an upgrade or a rollback that could not be finished. Later passes start it (see Recovery).
 */
export const owedStart = (version: string) =>
  write({ previous: version, target: version, agentWasRunning: true, step: "stop", holdsAgentLock: false })

export const clearJournal = Effect.gen(function*() {
  yield* (yield* StateStore).update(({ journal: _, ...state }) => state)
}).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
