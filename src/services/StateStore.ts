/**
 * What the updater remembers between runs: the upgrade the staged rollout has planned,
 * a version that failed its health check, the last check and the last error, the
 * time before which the repository asked not to be asked again, and
 * the journal of an upgrade in progress, written before each of its steps so
 * that the next run can recover from an updater that died half-way, and how many
 * rollbacks were done (for the metrics).
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** One of `values`; a mismatch names them all rather than only the first. */
const oneOf = <const Values extends ReadonlyArray<string>>(identifier: string, ...values: Values) =>
  Schema.Literal(...values).annotations({
    identifier,
    message: (issue) => {
      const expected = values.map((value) => JSON.stringify(value)).join(" | ")
      return { message: `Expected ${expected}, actual ${JSON.stringify(issue.actual)}`, override: true }
    }
  })

export const PlannedUpgrade = Schema.Struct({
  /** The published version that was found newer than the installed agent. */
  version: Schema.String,
  /** When the upgrade is due, in epoch milliseconds. */
  at: Schema.Number
}).annotations({ identifier: "PlannedUpgrade" })
export interface PlannedUpgrade extends Schema.Schema.Type<typeof PlannedUpgrade> {}

export const JournalStep = oneOf(
  "JournalStep",
  "secure",
  "download",
  "lock",
  "stop",
  "transaction",
  "start",
  "health-check",
  "rollback"
)
export type JournalStep = Schema.Schema.Type<typeof JournalStep>

/** A package file of the installed agent kept on disk (a host path), for a rollback. */
export const SecuredPackage = Schema.Struct({
  /** A copy kept from earlier, the repository, the package cache, or rebuilt from the installed files. */
  source: oneOf("SecuredPackage source", "kept", "repository", "cache", "rebuilt"),
  file: Schema.String
}).annotations({ identifier: "SecuredPackage" })
export interface SecuredPackage extends Schema.Schema.Type<typeof SecuredPackage> {}

export const JournalEntry = Schema.Struct({
  /** The updater process that is upgrading. */
  pid: Schema.Int,
  /** The step about to run. */
  step: JournalStep,
  /** The agent's package version before the upgrade. */
  previous: Schema.String,
  /** The package version being installed. */
  target: Schema.String,
  agentWasRunning: Schema.Boolean,
  /** Whether the updater holds the agent's backup lock. */
  holdsAgentLock: Schema.Boolean,
  secured: Schema.optional(SecuredPackage),
  /** How many rollbacks of this upgrade were tried: a rollback that keeps failing is given up. */
  rollbacks: Schema.optional(Schema.Int)
}).annotations({ identifier: "JournalEntry" })
export interface JournalEntry extends Schema.Schema.Type<typeof JournalEntry> {}

export const FailedVersion = Schema.Struct({
  /** The upstream version whose upgrade failed and was rolled back; it is not tried again until a newer one is published. */
  version: Schema.String,
  at: Schema.Number,
  reason: Schema.String
}).annotations({ identifier: "FailedVersion" })
export interface FailedVersion extends Schema.Schema.Type<typeof FailedVersion> {}

export const NotBefore = Schema.Struct({
  /** No request goes to the repository before this time, in epoch milliseconds (at most a day after it was set). */
  at: Schema.Number,
  /** The failure that carried the server's `Retry-After`. */
  reason: Schema.String
}).annotations({ identifier: "NotBefore" })
export interface NotBefore extends Schema.Schema.Type<typeof NotBefore> {}

/**
 * What the state file holds. Fields it does not know (written by a newer
 * updater) are dropped, not an error; a known field that does not decode makes
 * the whole file damaged, since a state with a part silently dropped (the
 * journal, say) would be acted on as if it were whole.
 */
export const StoredState = Schema.Struct({
  plannedUpgrade: Schema.optional(PlannedUpgrade),
  failedVersion: Schema.optional(FailedVersion),
  lastCheck: Schema.optional(
    Schema.Struct({ at: Schema.Number, result: Schema.String }).annotations({ identifier: "LastCheck" })
  ),
  lastError: Schema.optional(
    Schema.Struct({ at: Schema.Number, message: Schema.String }).annotations({ identifier: "LastError" })
  ),
  journal: Schema.optional(JournalEntry),
  notBefore: Schema.optional(NotBefore),
  /**
   * Rollbacks of a failed upgrade done on this host (the metrics' `rollbacks_total` counter).
   * Absent in a file written before it was kept: none counted yet.
   */
  rollbacksDone: Schema.optional(Schema.NonNegativeInt)
}).annotations({ identifier: "UpdaterState" })
export interface StoredState extends Schema.Schema.Type<typeof StoredState> {}

/** A state file that existed but could not be read as a state. */
export const DamagedState = Schema.Struct({
  /** What was wrong with it. */
  detail: Schema.String,
  /** Where the damaged file was moved aside to; undefined when it stayed where it was. */
  movedTo: Schema.UndefinedOr(Schema.String)
})
export interface DamagedState extends Schema.Schema.Type<typeof DamagedState> {}

export const UpdaterState = Schema.Struct({
  ...StoredState.fields,
  /**
   * Set only by `get`, never saved: the state file was damaged, so an upgrade
   * may have been under way although no journal says so.
   */
  damaged: Schema.optional(DamagedState)
})
export interface UpdaterState extends Schema.Schema.Type<typeof UpdaterState> {}

export class StateStoreError extends Data.TaggedError("StateStoreError")<{ readonly path: string; readonly detail: string }> {
  override get message(): string {
    return `cannot save the updater's state in ${this.path}: ${this.detail}`
  }
}

export interface StateStoreShape {
  /**
   * The saved state; `{}` when there is none. A state file that exists but does
   * not decode is moved aside with a warning and reported as `{ damaged }`.
   */
  readonly get: Effect.Effect<UpdaterState>
  /** Saves `f` of the saved state; `f` sees `{}` when the file was damaged, and `damaged` is never saved. */
  readonly update: (f: (state: UpdaterState) => UpdaterState) => Effect.Effect<void, StateStoreError>
}

export class StateStore extends Context.Tag("cloudbackup-updater/StateStore")<StateStore, StateStoreShape>() {}
