/** The metrics file in a directory (`--metrics-dir`): checked at start, written atomically with mode 0644, failures told. */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { METRICS_FILE, render } from "../../src/domain/Metrics.js"
import * as NodeMetricsSink from "../../src/layers/NodeMetricsSink.js"
import { recordingMetrics } from "../../src/programs/PassMetrics.js"
import { type PassOutcome, updatePass } from "../../src/programs/UpdatePass.js"
import { MetricsSink } from "../../src/services/MetricsSink.js"
import { EVERY_METRIC, UP_TO_DATE } from "../support/MetricsFacts.js"
import { simulatedRun } from "../support/SimulatedRun.js"
import { tempRoot } from "../support/TempRoot.js"

const writeWith = (dir: string, facts = EVERY_METRIC) => NodeMetricsSink.make(dir).write(facts)

describe("--metrics-dir DIR, checked at start", () => {
  it.scoped("an existing directory: taken, made absolute", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      expect(yield* NodeMetricsSink.checkDirectory(root)).toBe(root)
      expect(yield* NodeMetricsSink.checkDirectory(`${root}/./`)).toBe(root)
      expect(yield* NodeMetricsSink.checkDirectory(path.relative(process.cwd(), root))).toBe(root)
    }))

  it.scoped("a directory that does not exist, a file, an empty name: refused, saying why", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const file = path.join(root, "a-file")
      yield* Effect.promise(() => fs.writeFile(file, ""))
      const why = (dir: string) => Effect.map(Effect.flip(NodeMetricsSink.checkDirectory(dir)), (error) => error.message)
      expect(yield* why(path.join(root, "missing"))).toBe(`the directory ${root}/missing does not exist`)
      expect(yield* why(path.join(file, "below"))).toBe(`the directory ${file}/below does not exist`)
      expect(yield* why(file)).toBe(`${file} is not a directory`)
      expect(yield* why("")).toBe("the directory name is empty")
    }))

  it.scoped("the layer fails to build on a missing directory; without the option, metrics are off", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const built = yield* Effect.exit(Layer.build(NodeMetricsSink.layerFor(Option.some(path.join(root, "missing")))))
      expect(Exit.isFailure(built)).toBe(true)
      const off = yield* MetricsSink.pipe(Effect.provide(NodeMetricsSink.layerFor(Option.none())))
      expect(off.enabled).toBe(false)
      const on = yield* MetricsSink.pipe(Effect.provide(NodeMetricsSink.layerFor(Option.some(root))))
      expect(on.enabled).toBe(true)
    }))
})

describe("the metrics file", () => {
  it.scoped("is the rendered text, mode 0644, with no temporary file left; a second write replaces it", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* writeWith(root)
      const file = path.join(root, METRICS_FILE)
      expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe(render(EVERY_METRIC))
      expect((yield* Effect.promise(() => fs.stat(file))).mode & 0o7777).toBe(NodeMetricsSink.FILE_MODE)
      yield* Effect.promise(() => fs.chmod(file, 0o600))
      yield* writeWith(root, UP_TO_DATE)
      expect(yield* Effect.promise(() => fs.readFile(file, "utf8"))).toBe(render(UP_TO_DATE))
      expect((yield* Effect.promise(() => fs.stat(file))).mode & 0o7777).toBe(0o644)
      expect(yield* Effect.promise(() => fs.readdir(root))).toEqual([METRICS_FILE])
    }))

  it.scoped("a directory gone since the start: a write error naming the file", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const dir = path.join(root, "node-exporter")
      yield* Effect.promise(() => fs.mkdir(dir))
      const sink = NodeMetricsSink.make(yield* NodeMetricsSink.checkDirectory(dir))
      yield* Effect.promise(() => fs.rmdir(dir))
      const error = yield* Effect.flip(sink.write(EVERY_METRIC))
      expect(error.message).toBe(`cannot write the metrics file ${dir}/${METRICS_FILE}: no such file or directory`)
    }))

  it.scoped("a pass on the simulated host leaves it on disk; a failed write leaves the pass as it was", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const pass = Effect.gen(function*() {
        const fiber = yield* Effect.fork(recordingMetrics((outcome: PassOutcome) => outcome)(updatePass))
        yield* TestClock.adjust(Duration.minutes(10))
        return yield* Fiber.join(fiber)
      })
      const host = simulatedRun({ installed: "1.1.0-1", agentRunning: true, offered: ["1.1.0-1", "1.2.0-1"] })
      const outcome = yield* pass.pipe(Effect.provide(Layer.merge(host, NodeMetricsSink.layer(root))))
      expect(outcome._tag).toBe("Upgraded")
      const text = yield* Effect.promise(() => fs.readFile(path.join(root, METRICS_FILE), "utf8"))
      expect(text).toContain("cloudbackup_updater_agent_info{installed=\"1.2.0-1\",published=\"1.2.0\"} 1\n")
      expect(text).toContain("cloudbackup_updater_last_pass_success 1\n")

      const gone = path.join(root, "gone")
      yield* Effect.promise(() => fs.mkdir(gone))
      const sink = Layer.succeed(MetricsSink, NodeMetricsSink.make(gone))
      yield* Effect.promise(() => fs.rmdir(gone))
      expect((yield* pass.pipe(Effect.provide(Layer.merge(host, sink))))._tag).toBe("Upgraded")
    }))
})
