/**
 * What the updater remembers between runs: the upgrade the daemon has planned,
 * a version that failed its health check, the last check and the last error, and
 * the journal of an upgrade in progress, written before each of its steps so
 * that the next run can recover from an updater that died half-way.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

export interface PlannedUpgrade {
  /** The published version that was found newer than the installed agent. */
  readonly version: string
  /** When the upgrade is due, in epoch milliseconds. */
  readonly at: number
}

export type JournalStep = "download" | "lock" | "stop" | "transaction" | "start" | "health-check" | "rollback"

export interface JournalEntry {
  /** The updater process that is upgrading. */
  readonly pid: number
  /** The step about to run. */
  readonly step: JournalStep
  /** The agent's package version before the upgrade. */
  readonly previous: string
  /** The package version being installed. */
  readonly target: string
  readonly agentWasRunning: boolean
  /** Whether the updater holds the agent's backup lock. */
  readonly holdsAgentLock: boolean
}

export interface FailedVersion {
  /** The upstream version that did not stay running; it is not tried again until a newer one is published. */
  readonly version: string
  readonly at: number
  readonly reason: string
}

export interface UpdaterState {
  readonly plannedUpgrade?: PlannedUpgrade | undefined
  readonly failedVersion?: FailedVersion | undefined
  readonly lastCheck?: { readonly at: number; readonly result: string } | undefined
  readonly lastError?: { readonly at: number; readonly message: string } | undefined
  readonly journal?: JournalEntry | undefined
}

export class StateStoreError extends Data.TaggedError("StateStoreError")<{ readonly path: string; readonly detail: string }> {
  override get message(): string {
    return `cannot save the updater's state in ${this.path}: ${this.detail}`
  }
}

export interface StateStoreShape {
  /** The saved state; an unreadable or malformed file is reported as a warning and read as empty. */
  readonly get: Effect.Effect<UpdaterState>
  readonly update: (f: (state: UpdaterState) => UpdaterState) => Effect.Effect<void, StateStoreError>
}

export class StateStore extends Context.Tag("cloudbackup-updater/StateStore")<StateStore, StateStoreShape>() {}
