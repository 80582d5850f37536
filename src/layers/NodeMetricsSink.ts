/**
 * `--metrics-dir DIR`: the metrics of each pass in `DIR/cloudbackup-updater.prom`, replaced
 * atomically (a hidden temporary file in the same directory, renamed over it: node_exporter's
 * textfile collector, which reads only `*.prom` files, never sees a part), mode 0644.
 *
 * The directory is checked once, at start: one that does not exist, or is not a directory, is a
 * bad command line (the option names the collector's directory, which its package creates). One
 * that goes away or cannot be written later costs a warning per pass, never the pass.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { METRICS_FILE, render } from "../domain/Metrics.js"
import { MetricsSink, type MetricsSinkShape, MetricsWriteError, none } from "../services/MetricsSink.js"
import { writeFileAtomically } from "./internal/HostFiles.js"

export const FILE_MODE = 0o644

/** A metrics directory that cannot be used, found at start. */
export class MetricsDirectoryError extends Data.TaggedError("MetricsDirectoryError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** `dir` made absolute, if it names an existing directory. */
export const checkDirectory = (dir: string): Effect.Effect<string, MetricsDirectoryError> =>
  Effect.suspend(() => {
    if (dir === "") return Effect.fail(new MetricsDirectoryError({ detail: "the directory name is empty" }))
    const absolute = path.resolve(dir)
    return Effect.tryPromise({
      try: () => fs.stat(absolute),
      catch: (error) => {
        const code = (error as NodeJS.ErrnoException).code
        return new MetricsDirectoryError({
          detail: code === "ENOENT" || code === "ENOTDIR"
            ? `the directory ${absolute} does not exist`
            : `cannot use the directory ${absolute}: ${code ?? String(error)}`
        })
      }
    }).pipe(
      Effect.filterOrFail(
        (stats) => stats.isDirectory(),
        () => new MetricsDirectoryError({ detail: `${absolute} is not a directory` })
      ),
      Effect.as(absolute)
    )
  })

/** Writes the metrics file in `dir` (an absolute path to a directory). */
export const make = (dir: string): MetricsSinkShape => {
  const file = path.join(dir, METRICS_FILE)
  return {
    enabled: true,
    write: (facts) =>
      writeFileAtomically(file, render(facts), FILE_MODE).pipe(
        Effect.mapError((error) => new MetricsWriteError({ file, detail: error.detail })),
        Effect.zipRight(Effect.logDebug(`wrote the metrics to ${file}`))
      )
  }
}

/** The metrics file in `dir`, which must exist. */
export const layer = (dir: string): Layer.Layer<MetricsSink, MetricsDirectoryError> =>
  Layer.effect(MetricsSink, Effect.map(checkDirectory(dir), make))

/** `--metrics-dir` as given: the file in that directory, or no metrics. */
export const layerFor = (dir: Option.Option<string>): Layer.Layer<MetricsSink, MetricsDirectoryError> =>
  Option.match(dir, { onNone: () => Layer.succeed(MetricsSink, none), onSome: layer })
