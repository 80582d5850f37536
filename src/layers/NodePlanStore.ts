/** PlanStore in a JSON file under the state directory, replaced atomically. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type PlannedUpgrade, PlanStore, PlanStoreError, type PlanStoreShape } from "../services/PlanStore.js"
import { STATE_DIR } from "../services/UpdaterConfig.js"

export const PLAN_FILE = `${STATE_DIR}/planned-upgrade.json`

const isPlan = (value: unknown): value is PlannedUpgrade =>
  typeof value === "object" && value !== null &&
  typeof (value as PlannedUpgrade).version === "string" &&
  typeof (value as PlannedUpgrade).at === "number" && Number.isFinite((value as PlannedUpgrade).at)

export const make = (file: string = PLAN_FILE): PlanStoreShape => {
  const fail = (error: unknown) =>
    new PlanStoreError({ path: file, detail: (error as NodeJS.ErrnoException).code ?? String(error) })
  return {
    get: Effect.suspend(() => {
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return Effect.succeed(Option.none())
        return Effect.as(Effect.logWarning(`ignoring the planned upgrade: ${fail(error).detail}`), Option.none())
      }
      try {
        const value: unknown = JSON.parse(text)
        if (isPlan(value)) return Effect.succeed(Option.some({ version: value.version, at: value.at }))
      } catch { /* reported below */ }
      return Effect.as(Effect.logWarning(`ignoring ${file}: not a planned upgrade`), Option.none())
    }),
    set: (plan) =>
      Effect.try({
        try: () => {
          fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
          const staging = `${file}.new`
          fs.writeFileSync(staging, `${JSON.stringify({ ...plan, due: new Date(plan.at).toISOString() })}\n`, { mode: 0o644 })
          fs.renameSync(staging, file)
        },
        catch: fail
      }),
    clear: Effect.try({
      try: () => fs.rmSync(file, { force: true }),
      catch: fail
    })
  }
}

export const layer = (file?: string): Layer.Layer<PlanStore> => Layer.sync(PlanStore, () => make(file))
