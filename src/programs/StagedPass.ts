/**
 * The staged rollout's step, shared by the daemon's checks and the timer's one-shot runs
 * (`--staged`): a pass that upgrades only when the planned upgrade is due. A newer published
 * version gets a plan (a random rollout delay, drawn once per version) kept in the state file; a
 * due plan makes the pass read the published version again and upgrade. A missing agent is
 * installed at once, whatever the plan.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DelayUnit, drawDelay, maxDelay } from "../domain/RolloutDelay.js"
import { type PlannedUpgrade, StateStore } from "../services/StateStore.js"
import { iso } from "./NotBefore.js"
import type { PassOutcome } from "./PassOutcome.js"
import { pass } from "./UpdatePass.js"

export interface StagedOptions {
  readonly delayUnit: DelayUnit
  /** Time between two checks: a plan further ahead than the longest delay plus this is not believed. */
  readonly interval: Duration.Duration
}

export const describeDue = (plan: PlannedUpgrade, now: number) =>
  `${iso(plan.at)} (in ${Duration.format(Duration.millis(Math.max(0, Math.round((plan.at - now) / 1000) * 1000)))})`

/** What a pass's outcome means for the planned upgrade; the plan that stands afterwards. */
export const replan = (outcome: PassOutcome, plan: Option.Option<PlannedUpgrade>, now: number, options: StagedOptions) =>
  Effect.gen(function*() {
    const store = yield* StateStore
    switch (outcome._tag) {
      case "Behind": {
        if (Option.isSome(plan)) {
          const { at, version } = plan.value
          // A plan drawn on a sound clock is never further ahead than the longest delay; the extra
          // interval spares small clock corrections.
          const horizon = Duration.sum(maxDelay(options.delayUnit), options.interval)
          if (version !== outcome.published) {
            yield* Effect.logInfo(`${outcome.published} is published now, not ${version}; drawing the rollout delay again`)
          } else if (at - now > Duration.toMillis(horizon)) {
            yield* Effect.logWarning(
              `the upgrade to ${version} planned at ${iso(at)} is more than ${Duration.format(horizon)} ahead, ` +
                "beyond any rollout delay; drawing the delay again"
            )
          } else {
            yield* Effect.logInfo(`the upgrade to ${outcome.published} is planned at ${describeDue(plan.value, now)}`)
            return plan
          }
        }
        const delay = yield* drawDelay(options.delayUnit)
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

/**
 * One staged pass at `now` with the plan in hand (the daemon keeps it between checks; a one-shot
 * run reads it from the state file): the pass upgrades only if the plan is due. Its outcome, and the plan
 * that stands afterwards.
 */
export const step = (plan: Option.Option<PlannedUpgrade>, now: number, options: StagedOptions) =>
  stepWith(productionPass)(plan, now, options)

/** The update pass the daemon and the timer run: `upgrade` is false unless the planned upgrade is due. */
const productionPass = (upgrade: boolean) => pass({ upgrade })

/**
 * `step` with the pass given: the same plan, due rule and replanning around another pass. The
 * fleet simulation gives it an in-memory model of the pass, so that thousands of hosts run the
 * production scheduling (draw, plan kept in the state, due rule) without the package manager.
 */
export const stepWith = <E, R>(runPass: (upgrade: boolean) => Effect.Effect<PassOutcome, E, R>) =>
(plan: Option.Option<PlannedUpgrade>, now: number, options: StagedOptions) =>
  Effect.gen(function*() {
    const due = Option.isSome(plan) && plan.value.at <= now
    if (due) yield* Effect.logInfo("the planned upgrade is due; reading the published version again")
    const outcome = yield* runPass(due)
    return { outcome, plan: yield* replan(outcome, plan, now, options) }
  })

/** `--staged`: one staged pass with the plan kept in the state file, as the timer runs it. */
export const once = (options: StagedOptions) =>
  Effect.gen(function*() {
    const plan = Option.fromNullable((yield* (yield* StateStore).get).plannedUpgrade)
    return yield* step(plan, yield* Clock.currentTimeMillis, options)
  })
