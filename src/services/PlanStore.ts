/**
 * Where the daemon keeps the upgrade it has planned, so that a restart keeps
 * the drawn rollout time instead of drawing a new one.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

export interface PlannedUpgrade {
  /** The published version that was found newer than the installed agent. */
  readonly version: string
  /** When the upgrade is due, in epoch milliseconds. */
  readonly at: number
}

export class PlanStoreError extends Data.TaggedError("PlanStoreError")<{ readonly path: string; readonly detail: string }> {
  override get message(): string {
    return `cannot save the planned upgrade in ${this.path}: ${this.detail}`
  }
}

export interface PlanStoreShape {
  /** The saved plan; an unreadable or malformed one is reported as a warning and read as none. */
  readonly get: Effect.Effect<Option.Option<PlannedUpgrade>>
  readonly set: (plan: PlannedUpgrade) => Effect.Effect<void, PlanStoreError>
  readonly clear: Effect.Effect<void, PlanStoreError>
}

export class PlanStore extends Context.Tag("cloudbackup-updater/PlanStore")<PlanStore, PlanStoreShape>() {}
