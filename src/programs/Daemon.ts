/**
 * `cloudbackup-updater -d`: one pass at start, then a check every interval. A
 * newer version is not installed at once: the upgrade is planned after a random
 * rollout delay, kept across restarts, and done by a full pass (which reads the
 * version again) when it is due. A missing agent is installed at once.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { type DelayUnit, drawDelay, maxDelay } from "../domain/RolloutDelay.js"
import { type PlannedUpgrade, StateStore } from "../services/StateStore.js"
import * as Pidfile from "./Pidfile.js"
import { pass, type PassOutcome } from "./UpdatePass.js"

export interface DaemonOptions {
  readonly pidfile: string
  readonly interval: Duration.Duration
  readonly delayUnit: DelayUnit
}

/** Date covers ±8.64e15 ms; a damaged state file may hold a time beyond that. */
const iso = (at: number) => (Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : `${at} ms since the epoch`)

const describeDue = (plan: PlannedUpgrade, now: number) =>
  `${iso(plan.at)} (in ${Duration.format(Duration.millis(Math.max(0, Math.round((plan.at - now) / 1000) * 1000)))})`

/**
 * Elapsed time in ms from an arbitrary origin. In Node, Clock.currentTimeNanos reads process.hrtime (monotonic),
 * so setting the wall clock moves neither this nor the timers that sleeps use.
 */
const monotonicMillis = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1_000_000)

/** What a pass's outcome means for the planned upgrade. */
const replan = (
  outcome: PassOutcome,
  plan: Option.Option<PlannedUpgrade>,
  now: number,
  unit: DelayUnit,
  interval: Duration.Duration
) =>
  Effect.gen(function*() {
    const store = yield* StateStore
    switch (outcome._tag) {
      case "Behind": {
        if (Option.isSome(plan)) {
          const { at, version } = plan.value
          // A plan drawn on a sound clock is never further ahead than the longest delay; the extra
          // interval spares small clock corrections.
          const horizon = Duration.sum(maxDelay(unit), interval)
          if (version !== outcome.published) {
            yield* Effect.logInfo(`${outcome.published} is published now, not ${version}; drawing the rollout delay again`)
          } else if (at - now > Duration.toMillis(horizon)) {
            yield* Effect.logWarning(
              `the upgrade to ${version} planned at ${iso(at)} is more than ${Duration.format(horizon)} ahead, ` +
                "beyond any rollout delay; drawing the delay again"
            )
          } else {
            yield* Effect.logDebug(`the upgrade to ${outcome.published} is due at ${describeDue(plan.value, now)}`)
            return plan
          }
        }
        const delay = yield* drawDelay(unit)
        const planned = { version: outcome.published, at: now + Duration.toMillis(delay) }
        yield* store.update((state) => ({ ...state, plannedUpgrade: planned }))
        yield* Effect.logInfo(`a newer agent ${outcome.published} is published; upgrade planned at ${describeDue(planned, now)}`)
        return Option.some(planned)
      }
      case "NotOffered":
        return plan
      default:
        if (Option.isSome(plan)) yield* store.update(({ plannedUpgrade: _, ...state }) => state)
        return Option.none()
    }
  })

/** When the daemon runs again: the next check (monotonic ms) or a planned upgrade's due time (epoch ms). */
export interface WakeTime {
  readonly check: number
  readonly upgrade: number | undefined
}

/**
 * Repeats a step that returns its wake time, sleeping until then but never longer than `cap`: the runtime's
 * timer never ends a sleep over 2^31-1 ms (~24.8 days), and a step that finds nothing due yet simply sleeps
 * again, so a change of the wall clock is noticed within `cap`.
 */
export const untilWakeTime = (cap: Duration.Duration) =>
  Schedule.identity<WakeTime>().pipe(
    Schedule.addDelayEffect((wake) =>
      Effect.gen(function*() {
        const toCheck = wake.check - (yield* monotonicMillis)
        const toUpgrade = wake.upgrade === undefined ? Infinity : wake.upgrade - (yield* Clock.currentTimeMillis)
        return Duration.millis(Math.max(0, Math.min(toCheck, toUpgrade, Duration.toMillis(cap))))
      })
    )
  )

export const run = (options: DaemonOptions) =>
  Effect.gen(function*() {
    yield* Pidfile.claim(options.pidfile)
    const store = yield* StateStore
    const interval = Duration.toMillis(options.interval)
    yield* Effect.logInfo(`daemon started (pid ${process.pid}); checking every ${Duration.format(options.interval)}`)
    let plan = Option.fromNullable((yield* store.get).plannedUpgrade)
    let wake: WakeTime = { check: yield* monotonicMillis, upgrade: undefined }

    const step = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const elapsed = yield* monotonicMillis
      let nextCheck = wake.check
      const checkDue = elapsed >= nextCheck
      if (checkDue) nextCheck += Math.floor((elapsed - nextCheck) / interval + 1) * interval
      // A plan already past due when the last step ended (its pass failed, say) waits for the next check, not the next wake.
      if (checkDue || (wake.upgrade !== undefined && wake.upgrade <= now)) {
        const due = Option.isSome(plan) && plan.value.at <= now
        if (due) yield* Effect.logInfo("the planned upgrade is due; reading the published version again")
        plan = yield* pass({ upgrade: due }).pipe(
          Effect.flatMap((outcome) => replan(outcome, plan, now, options.delayUnit, options.interval)),
          Effect.catchAll((error) => Effect.as(Effect.logError(error.message), plan))
        )
      }
      wake = {
        check: nextCheck,
        upgrade: Option.isSome(plan) && plan.value.at > now ? plan.value.at : undefined
      }
      return wake
    })
    return yield* Effect.repeat(step, untilWakeTime(Duration.min(options.interval, Duration.hours(1))))
  }).pipe(
    Effect.scoped,
    Effect.onInterrupt(() => Effect.logInfo("daemon stopped"))
  )
