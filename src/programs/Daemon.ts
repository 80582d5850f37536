/**
 * `cloudbackup-updater -d`: one pass at start, then a check every interval. A
 * newer version is not installed at once: the upgrade is planned after a random
 * rollout delay, kept across restarts, and done by a full pass (which reads the
 * version again) when it is due. A missing agent is installed at once. Before the
 * repository's not-before time (its `Retry-After`) no check runs: the one due waits until
 * then. A defect in a check is logged and remembered, and the next check runs as planned.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { DelayUnit } from "../domain/RolloutDelay.js"
import { StateStore } from "../services/StateStore.js"
import { describeDefect } from "./ExitCode.js"
import * as NotBefore from "./NotBefore.js"
import { recordingMetrics } from "./PassMetrics.js"
import * as Pidfile from "./Pidfile.js"
import * as StagedPass from "./StagedPass.js"
import { rememberDefect } from "./UpdatePass.js"

export interface DaemonOptions {
  readonly pidfile: string
  readonly interval: Duration.Duration
  readonly delayUnit: DelayUnit
  /** Run after each check, before the daemon sleeps: e.g. giving back the memory the check used. */
  readonly afterCheck?: Effect.Effect<void>
}

/**
 * Elapsed time in ms from an arbitrary origin. In Node, Clock.currentTimeNanos reads process.hrtime (monotonic),
 * so setting the wall clock moves neither this nor the timers that sleeps use.
 */
const monotonicMillis = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1_000_000)

/**
 * When the daemon runs again: the next check (monotonic ms), a planned upgrade's due time or the not-before time
 * a due check waits for (epoch ms).
 */
export interface WakeTime {
  readonly check: number
  readonly upgrade: number | undefined
  readonly notBefore: number | undefined
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
        const now = yield* Clock.currentTimeMillis
        const toUpgrade = wake.upgrade === undefined ? Infinity : wake.upgrade - now
        const toNotBefore = wake.notBefore === undefined ? Infinity : wake.notBefore - now
        return Duration.millis(Math.max(0, Math.min(toCheck, toUpgrade, toNotBefore, Duration.toMillis(cap))))
      })
    )
  )

/**
 * A defect (a bug, a throw inside a layer) ends only the check in hand, which yields `fallback`: it is logged, in
 * one line and in full at debug level. An interruption (a signal) still ends the daemon.
 */
const surviveDefects = <A>(fallback: A) => <E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.catchAllCause(self, (cause) =>
    Cause.isInterrupted(cause) || !Cause.isDie(cause)
      ? Effect.failCause(cause)
      : Effect.as(
        Effect.zipRight(
          Effect.logError(`${describeDefect(cause)}; going on with the next check`),
          Effect.logDebug(`the defect in full: ${Cause.pretty(cause)}`)
        ),
        fallback
      ))

export const run = (options: DaemonOptions) =>
  Effect.gen(function*() {
    yield* Pidfile.claim(options.pidfile)
    const store = yield* StateStore
    const interval = Duration.toMillis(options.interval)
    const afterCheck = (options.afterCheck ?? Effect.void).pipe(surviveDefects<void>(undefined))
    yield* Effect.logInfo(`daemon started (pid ${process.pid}); checking every ${Duration.format(options.interval)}`)
    let plan = Option.fromNullable((yield* store.get).plannedUpgrade)
    let wake: WakeTime = { check: yield* monotonicMillis, upgrade: undefined, notBefore: undefined }
    // A check fell due before the repository's not-before time and waits for it.
    let waiting = false

    /** A pass, and what its outcome means for the planned upgrade; remembered as the last error if either fails. */
    const check = (now: number) =>
      Effect.gen(function*() {
        return yield* StagedPass.step(plan, now, options).pipe(
          recordingMetrics(({ outcome }) => outcome),
          Effect.map((done) => done.plan),
          Effect.tapDefect(rememberDefect),
          Effect.catchAll((error) => Effect.as(Effect.logError(error.message), plan)),
          surviveDefects(plan)
        )
      })

    /** The not-before time that holds a due check back, if any; noted once when a wait begins. */
    const holdBack = (now: number) =>
      Effect.gen(function*() {
        const notBefore = NotBefore.inEffect(yield* store.get, now)
        if (Option.isSome(notBefore) && !waiting) {
          yield* Effect.logInfo(`${NotBefore.askedNotBefore(notBefore.value.at)}; the next check waits until then`)
        }
        waiting = Option.isSome(notBefore)
        return Option.map(notBefore, ({ at }) => at)
      })

    const step = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const elapsed = yield* monotonicMillis
      let nextCheck = wake.check
      const checkDue = elapsed >= nextCheck
      if (checkDue) nextCheck += Math.floor((elapsed - nextCheck) / interval + 1) * interval
      let notBefore = Option.none<number>()
      // A plan already past due when the last step ended (its pass failed, say) waits for the next check, not the next wake.
      if (checkDue || waiting || (wake.upgrade !== undefined && wake.upgrade <= now)) {
        notBefore = yield* holdBack(now).pipe(surviveDefects(Option.none<number>()))
        if (Option.isNone(notBefore)) {
          plan = yield* check(now)
          yield* afterCheck
        }
      }
      wake = {
        check: nextCheck,
        upgrade: Option.isSome(plan) && plan.value.at > now ? plan.value.at : undefined,
        notBefore: Option.getOrUndefined(notBefore)
      }
      return wake
    })
    return yield* Effect.repeat(step, untilWakeTime(Duration.min(options.interval, Duration.hours(1))))
  }).pipe(
    Effect.scoped,
    Effect.onInterrupt(() => Effect.logInfo("daemon stopped"))
  )
