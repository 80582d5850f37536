/** StateStore in a JSON file under the state directory, replaced atomically on each change. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StateStore, StateStoreError, type StateStoreShape, type UpdaterState } from "../services/StateStore.js"
import { STATE_DIR } from "../services/UpdaterConfig.js"

export const STATE_FILE = `${STATE_DIR}/state.json`

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** Keeps only well-formed parts: a damaged field is dropped, not trusted. */
const sanitize = (value: unknown): UpdaterState => {
  if (!isObject(value)) return {}
  const state: { -readonly [K in keyof UpdaterState]: UpdaterState[K] } = {}
  const plan = value["plannedUpgrade"]
  if (isObject(plan) && typeof plan["version"] === "string" && Number.isFinite(plan["at"])) {
    state.plannedUpgrade = { version: plan["version"], at: plan["at"] as number }
  }
  const failed = value["failedVersion"]
  if (isObject(failed) && typeof failed["version"] === "string" && Number.isFinite(failed["at"])) {
    state.failedVersion = { version: failed["version"], at: failed["at"] as number, reason: String(failed["reason"] ?? "") }
  }
  const check = value["lastCheck"]
  if (isObject(check) && Number.isFinite(check["at"])) {
    state.lastCheck = { at: check["at"] as number, result: String(check["result"] ?? "") }
  }
  const error = value["lastError"]
  if (isObject(error) && Number.isFinite(error["at"])) {
    state.lastError = { at: error["at"] as number, message: String(error["message"] ?? "") }
  }
  const journal = value["journal"]
  if (
    isObject(journal) && Number.isInteger(journal["pid"]) && typeof journal["step"] === "string" &&
    typeof journal["previous"] === "string" && typeof journal["target"] === "string"
  ) {
    state.journal = {
      pid: journal["pid"] as number,
      step: journal["step"] as NonNullable<UpdaterState["journal"]>["step"],
      previous: journal["previous"],
      target: journal["target"],
      agentWasRunning: journal["agentWasRunning"] === true,
      holdsAgentLock: journal["holdsAgentLock"] === true
    }
  }
  return state
}

export const make = (file: string = STATE_FILE): StateStoreShape => {
  const read = Effect.suspend(() => {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ENOENT") return Effect.succeed<UpdaterState>({})
      return Effect.as(Effect.logWarning(`ignoring ${file}: ${code ?? error}`), {})
    }
    try {
      return Effect.succeed(sanitize(JSON.parse(text)))
    } catch {
      return Effect.as(Effect.logWarning(`ignoring ${file}: not valid JSON`), {})
    }
  })
  return {
    get: read,
    update: (f) =>
      Effect.flatMap(read, (state) =>
        Effect.try({
          try: () => {
            fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
            const staging = `${file}.${process.pid}.new`
            fs.writeFileSync(staging, `${JSON.stringify(f(state), null, 2)}\n`, { mode: 0o644 })
            fs.renameSync(staging, file)
          },
          catch: (error) => new StateStoreError({ path: file, detail: (error as NodeJS.ErrnoException).code ?? String(error) })
        }))
  }
}

export const layer = (file?: string): Layer.Layer<StateStore> => Layer.sync(StateStore, () => make(file))
