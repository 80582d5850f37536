/** MetricsSink in memory, for the tests and the simulations: every write kept, the last one as the file's text too. */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type MetricsFacts, render } from "../domain/Metrics.js"
import { MetricsSink, MetricsWriteError } from "../services/MetricsSink.js"

export interface MemoryMetrics {
  /** The facts of every write, in order. */
  readonly written: Effect.Effect<ReadonlyArray<MetricsFacts>>
  /** The text of the last write, as the metrics file would hold it; none before the first. */
  readonly file: Effect.Effect<Option.Option<string>>
}

export class MemoryMetricsTag extends Context.Tag("cloudbackup-updater/MemoryMetrics")<MemoryMetricsTag, MemoryMetrics>() {}

export interface MemoryMetricsOptions {
  /** Every write fails with this detail (a directory gone, a full disk), and keeps nothing. */
  readonly failWith?: string
}

export const make = (options: MemoryMetricsOptions = {}) =>
  Effect.map(Ref.make<ReadonlyArray<MetricsFacts>>([]), (ref) => ({
    sink: MetricsSink.of({
      enabled: true,
      write: (facts) =>
        options.failWith === undefined
          ? Ref.update(ref, (written) => [...written, facts])
          : Effect.fail(new MetricsWriteError({ file: "(memory)", detail: options.failWith }))
    }),
    metrics: MemoryMetricsTag.of({
      written: Ref.get(ref),
      file: Effect.map(Ref.get(ref), (written) => Option.map(Option.fromNullable(written.at(-1)), render))
    })
  }))

export const layer = (options?: MemoryMetricsOptions): Layer.Layer<MetricsSink | MemoryMetricsTag> =>
  Layer.effectContext(
    Effect.map(make(options), ({ metrics, sink }) => Context.make(MetricsSink, sink).pipe(Context.add(MemoryMetricsTag, metrics)))
  )
