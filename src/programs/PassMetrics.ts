/**
 * The metrics of a pass (`--metrics-dir`): once a pass — one-shot, `--staged`, or a daemon check —
 * has ended and its result is remembered, its facts go to the MetricsSink. They are read from the
 * pass's outcome and the state file, and from the host only what neither tells (whether the agent
 * runs; after a failure, the installed version): never from the network. With metrics off, nothing
 * is gathered. A failure to gather or write them is a warning, never a failed pass.
 *
 * It wraps a whole staged step, not only the pass inside it, so that the plan the step leaves is
 * the one the metrics show.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import type { MetricsFacts } from "../domain/Metrics.js"
import { compareUpstream, isUpToDate } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { MetricsSink } from "../services/MetricsSink.js"
import { PackageManager } from "../services/PackageManager.js"
import { StateStore, type UpdaterState } from "../services/StateStore.js"
import { describeDefect } from "./ExitCode.js"
import type { PassOutcome } from "./PassOutcome.js"

/**
 * The version `version.txt` named in the pass in hand, set by the pass as soon as it reads it: the
 * published version of a pass that fails later (a rollback, a failed transaction).
 */
export const publishedRead: FiberRef.FiberRef<Option.Option<string>> = globalValue(
  Symbol.for("cloudbackup-updater/PassMetrics/publishedRead"),
  () => FiberRef.unsafeMake(Option.none<string>())
)

/** What an outcome tells of the installed and published versions. */
const versionsOf = (outcome: PassOutcome): { readonly installed: string; readonly published?: string } => {
  switch (outcome._tag) {
    case "Installed":
      return { installed: outcome.version }
    case "Upgraded":
      return { installed: outcome.to }
    default:
      return { installed: outcome.installed, published: outcome.published }
  }
}

/** How a pass ended: its outcome, or the one line of its failure. */
export type PassEnd = Either.Either<PassOutcome, string>

/** The facts of a pass that ended as `end`, with `state` read after it; `read` supplies what the host must tell. */
export const factsOf = (options: {
  readonly end: PassEnd
  readonly state: UpdaterState
  readonly now: number
  readonly publishedRead: Option.Option<string>
  readonly installed: Option.Option<string> | undefined
  readonly agentRunning: boolean | undefined
}): MetricsFacts => {
  const { end, now, state } = options
  const fromOutcome = Either.match(end, { onLeft: () => undefined, onRight: versionsOf })
  const installed = fromOutcome?.installed ?? Option.getOrUndefined(options.installed ?? Option.none())
  const published = fromOutcome?.published ?? Option.getOrUndefined(options.publishedRead)
  const plan = state.plannedUpgrade
  const failed = state.failedVersion
  return {
    installed,
    published,
    agentRunning: options.agentRunning,
    checkedAt: now,
    lastSuccessAt: Either.isRight(end) ? now : state.lastCheck?.at,
    failure: Either.isLeft(end) ? end.left : undefined,
    // A plan left for a version the agent already has (a plain pass upgraded it) is moot.
    plannedUpgrade: plan !== undefined && (installed === undefined || !isUpToDate(installed, plan.version))
      ? { version: plan.version, at: plan.at }
      : undefined,
    rollbacks: state.rollbacksDone ?? 0,
    // Held back until a newer version is published; while the published one is not known, still held.
    failedVersion: failed !== undefined && (published === undefined || compareUpstream(published, failed.version) <= 0)
      ? failed.version
      : undefined
  }
}

/** Reads what the facts of `end` need and hands them to the sink; warns when that fails. */
const record = (end: PassEnd) =>
  Effect.gen(function*() {
    const sink = yield* MetricsSink
    if (!sink.enabled) return
    const state = yield* (yield* StateStore).get
    const now = yield* Clock.currentTimeMillis
    // After a failure, no outcome tells the installed version: the package database does.
    const installed = Either.isLeft(end)
      ? yield* (yield* PackageManager).installedVersion.pipe(
        Effect.map((found): Option.Option<string> | undefined => found),
        Effect.orElseSucceed(() => undefined)
      )
      : undefined
    const agentRunning = yield* (yield* AgentService).isRunning.pipe(
      Effect.map((running): boolean | undefined => running),
      Effect.orElseSucceed(() => undefined)
    )
    const facts = factsOf({ end, state, now, publishedRead: yield* FiberRef.get(publishedRead), installed, agentRunning })
    yield* sink.write(facts)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logWarning(
          Option.match(Cause.failureOption(cause), {
            onNone: () => `the metrics were not written: ${describeDefect(cause)}`,
            onSome: (error) => error.message
          })
        )
    )
  )

/**
 * Runs `self` (a pass, or a staged step: `outcomeOf` finds the pass's outcome in its result) and
 * then writes the metrics of how it ended. An interrupted pass writes none.
 */
export const recordingMetrics = <A>(outcomeOf: (result: A) => PassOutcome) =>
<E extends { readonly message: string }, R>(
  self: Effect.Effect<A, E, R>
) =>
  Effect.locally(
    self.pipe(
      Effect.tap((result) => record(Either.right(outcomeOf(result)))),
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : record(Either.left(Option.match(Cause.failureOption(cause), {
            onNone: () => describeDefect(cause),
            onSome: (error) => error.message
          })))
      )
    ),
    publishedRead,
    Option.none()
  )
