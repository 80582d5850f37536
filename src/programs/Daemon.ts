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
import { type DelayUnit, drawDelay } from "../domain/RolloutDelay.js"
import { type PlannedUpgrade, StateStore } from "../services/StateStore.js"
import * as Pidfile from "./Pidfile.js"
import { pass, type PassOutcome } from "./UpdatePass.js"

export interface DaemonOptions {
  readonly pidfile: string
  readonly interval: Duration.Duration
  readonly delayUnit: DelayUnit
}

const describeDue = (plan: PlannedUpgrade, now: number) =>
  `${new Date(plan.at).toISOString()} (in ${Duration.format(Duration.millis(Math.max(0, Math.round((plan.at - now) / 1000) * 1000)))})`

/** What a pass's outcome means for the planned upgrade. */
const replan = (outcome: PassOutcome, plan: Option.Option<PlannedUpgrade>, now: number, unit: DelayUnit) =>
  Effect.gen(function*() {
    const store = yield* StateStore
    switch (outcome._tag) {
      case "Behind": {
        if (Option.isSome(plan)) {
          yield* Effect.logDebug(`the upgrade to ${outcome.published} is due at ${describeDue(plan.value, now)}`)
          return plan
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

/** Repeats a step that returns when it wants to run again (epoch ms), sleeping until then. */
export const untilWakeTime = Schedule.identity<number>().pipe(
  Schedule.addDelayEffect((wakeAt) =>
    Effect.map(Clock.currentTimeMillis, (now) => Duration.millis(Math.max(0, wakeAt - now))))
)

export const run = (options: DaemonOptions) =>
  Effect.gen(function*() {
    yield* Pidfile.claim(options.pidfile)
    const store = yield* StateStore
    const interval = Duration.toMillis(options.interval)
    yield* Effect.logInfo(`daemon started (pid ${process.pid}); checking every ${Duration.format(options.interval)}`)
    let plan = Option.fromNullable((yield* store.get).plannedUpgrade)
    let nextCheck = yield* Clock.currentTimeMillis

    const step = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (now >= nextCheck) nextCheck += Math.floor((now - nextCheck) / interval + 1) * interval
      const due = Option.isSome(plan) && plan.value.at <= now
      if (due) yield* Effect.logInfo("the planned upgrade is due; reading the published version again")
      plan = yield* pass({ upgrade: due }).pipe(
        Effect.flatMap((outcome) => replan(outcome, plan, now, options.delayUnit)),
        Effect.catchAll((error) => Effect.as(Effect.logError(error.message), plan))
      )
      return Option.match(plan, {
        onNone: () => nextCheck,
        onSome: (p) => (p.at > now ? Math.min(nextCheck, p.at) : nextCheck)
      })
    })
    return yield* Effect.repeat(step, untilWakeTime)
  }).pipe(
    Effect.scoped,
    Effect.onInterrupt(() => Effect.logInfo("daemon stopped"))
  )
