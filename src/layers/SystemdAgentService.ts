/** AgentService on systemd: the `driveclient` unit, through systemctl. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AgentService, AgentServiceError, type AgentServiceShape } from "../services/AgentService.js"
import { Shell } from "../services/Shell.js"
import { runChecked } from "./CheckedCommand.js"

const UNIT = "driveclient"
const STATUS_TIMEOUT = Duration.minutes(1)
// systemd itself gives up on a stop or start after the unit's own timeouts (90 s by default).
const CONTROL_TIMEOUT = Duration.minutes(10)

export const make = Effect.gen(function*() {
  const shell = yield* Shell

  const control = (operation: "stop" | "start") =>
    runChecked(
      shell,
      ["systemctl", operation, UNIT],
      { env: { LC_ALL: "C" }, timeout: CONTROL_TIMEOUT },
      (detail) => new AgentServiceError({ operation, detail })
    ).pipe(Effect.asVoid)

  const service: AgentServiceShape = {
    kind: "systemd",
    // Any status but 0 (inactive, failed, no such unit) means the agent is not running.
    isRunning: shell.run(["systemctl", "is-active", "--quiet", UNIT], { env: { LC_ALL: "C" }, timeout: STATUS_TIMEOUT })
      .pipe(
        Effect.mapError((error) => new AgentServiceError({ operation: "status", detail: error.message })),
        Effect.map((result) => result.exitCode === 0)
      ),
    stop: control("stop"),
    start: control("start")
  }
  return AgentService.of(service)
})

export const layer: Layer.Layer<AgentService, never, Shell> = Layer.effect(AgentService, make)
