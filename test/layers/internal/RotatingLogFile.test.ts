import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as RotatingLogFile from "../../../src/layers/internal/RotatingLogFile.js"

describe("RotatingLogFile", () => {
  it.effect("creates the file and writes one stamped line per event", () =>
    Effect.gen(function*() {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "log-")), "updater.log")
      const log = RotatingLogFile.open(file)
      yield* Effect.logWarning("the agent is busy").pipe(Effect.provide(Logger.replace(Logger.defaultLogger, log.logger)))
      log.close()
      expect(fs.readFileSync(file, "utf8")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN the agent is busy\n$/)
      expect(fs.statSync(file).mode & 0o777).toBe(0o640)
    }))

  it.effect("rotates by size and keeps the given number of files", () =>
    Effect.gen(function*() {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "log-")), "updater.log")
      const log = RotatingLogFile.open(file, { maxBytes: 200, files: 3 })
      const logger = Logger.replace(Logger.defaultLogger, log.logger)
      for (let i = 0; i < 40; i++) yield* Effect.logInfo(`event ${String(i).padStart(4, "0")}`).pipe(Effect.provide(logger))
      log.close()
      expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(["updater.log", "updater.log.1", "updater.log.2"])
      for (const name of ["updater.log", "updater.log.1", "updater.log.2"]) {
        expect(fs.statSync(path.join(path.dirname(file), name)).size).toBeLessThanOrEqual(200)
      }
      const current = fs.readFileSync(file, "utf8")
      expect(current.trimEnd().split("\n").at(-1)).toMatch(/INFO event 0039$/)
      const previous = fs.readFileSync(`${file}.1`, "utf8").trimEnd().split("\n")
      const firstCurrent = Number(/event (\d+)/.exec(current)![1])
      expect(previous.at(-1)).toMatch(new RegExp(`event ${String(firstCurrent - 1).padStart(4, "0")}$`))
    }))

  it("fails to open a file in a missing directory", () => {
    expect(() => RotatingLogFile.open("/nonexistent-dir/updater.log")).toThrow(/ENOENT/)
  })
})
