/**
 * Where the metrics of each pass go (`--metrics-dir`): the programs hand the facts of a pass to
 * `write`, and the layer decides what becomes of them — the metrics file in a directory
 * (layers/NodeMetricsSink), a list in memory (layers/MemoryMetricsSink), or nothing at all.
 *
 * Without a layer, nothing: metrics are off by default, so a program run without one (a test, the
 * simulation, `status`) needs no wiring, and gathers no facts for them (`enabled` is false).
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { MetricsFacts } from "../domain/Metrics.js"

export class MetricsWriteError extends Data.TaggedError("MetricsWriteError")<{ readonly file: string; readonly detail: string }> {
  override get message(): string {
    return `cannot write the metrics file ${this.file}: ${this.detail}`
  }
}

export interface MetricsSinkShape {
  /** Whether metrics are kept at all: when false, a pass gathers no facts for them. */
  readonly enabled: boolean
  /** Replaces the metrics with those of `facts`; a failure is the caller's to report, as a warning. */
  readonly write: (facts: MetricsFacts) => Effect.Effect<void, MetricsWriteError>
}

/** Metrics off: nothing is gathered, nothing written. */
export const none: MetricsSinkShape = { enabled: false, write: () => Effect.void }

export class MetricsSink extends Context.Reference<MetricsSink>()("cloudbackup-updater/MetricsSink", {
  defaultValue: (): MetricsSinkShape => none
}) {}
