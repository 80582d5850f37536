/** AgentService on systemd: the `driveclient` unit, through systemctl. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AgentService, AgentServiceError, type AgentServiceShape } from "../services/AgentService.js"
import { type CommandResult, lastLine, Shell } from "../services/Shell.js"
import { runChecked } from "./internal/CheckedCommand.js"
import { processStartTime } from "./internal/ProcessTable.js"

export interface SystemdOptions {
  /** Where the process table is read; `/proc` by default. */
  readonly procDir?: string
}

const UNIT = "driveclient"
const STATUS_TIMEOUT = Duration.minutes(1)
// systemd itself gives up on a stop or start after the unit's own timeouts (90 s by default).
const CONTROL_TIMEOUT = Duration.minutes(10)

/** Unit file states in which the unit starts at boot, or is not the administrator's to switch off. */
const ENABLED_STATES = new Set([
  "enabled",
  "enabled-runtime",
  "static",
  "alias",
  "indirect",
  "generated",
  "transient",
  "linked",
  "linked-runtime"
])
/** States the administrator set: the agent is kept from starting. */
const DISABLED_STATES = new Set(["disabled", "masked", "masked-runtime"])

/**
 * `systemctl is-enabled` as a yes or no; none for an answer it should not give. A unit
 * systemd does not know counts as enabled: there is no choice of the administrator's to respect.
 */
export const parseIsEnabled = (result: CommandResult): Option.Option<boolean> => {
  // SysV-only services print systemd-sysv-install's chatter first; the state is the last line.
  const state = result.stdout.split("\n").map((line) => line.trim()).filter(Boolean).at(-1)
  if (state !== undefined && ENABLED_STATES.has(state)) return Option.some(true)
  if (state !== undefined && DISABLED_STATES.has(state)) return Option.some(false)
  if (state === "not-found" || (result.exitCode !== 0 && state === undefined &&
    /Failed to get unit file state|not-found/.test(result.stderr))) {
    return Option.some(true)
  }
  return Option.none()
}

/**
 * The unit's main pid from `systemctl show --property=MainPID`; none for 0 (no running main
 * process). The `MainPID=N` form is read on every systemd; `--value` only came with 230.
 */
export const parseMainPid = (stdout: string): Option.Option<number> => {
  const match = /^MainPID=(\d+)\s*$/m.exec(stdout)
  const pid = match === null ? 0 : Number(match[1])
  return Number.isSafeInteger(pid) && pid > 0 ? Option.some(pid) : Option.none()
}

export const makeWith = (options: SystemdOptions = {}) => Effect.gen(function*() {
  const shell = yield* Shell
  const procDir = options.procDir ?? "/proc"

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
    startedAt: shell.run(["systemctl", "show", "--property=MainPID", UNIT], { env: { LC_ALL: "C" }, timeout: STATUS_TIMEOUT })
      .pipe(
        Effect.mapError((error) => new AgentServiceError({ operation: "status", detail: error.message })),
        Effect.filterOrFail(
          (result) => result.exitCode === 0,
          (result) => new AgentServiceError({ operation: "status", detail: `systemctl show ${UNIT}: ${lastLine(result)}` })
        ),
        Effect.map((result) =>
          Option.flatMap(parseMainPid(result.stdout), (pid) => Option.fromNullable(processStartTime(pid, procDir)))
        )
      ),
    isEnabled: shell.run(["systemctl", "is-enabled", UNIT], { env: { LC_ALL: "C" }, timeout: STATUS_TIMEOUT }).pipe(
      Effect.mapError((error) => new AgentServiceError({ operation: "is-enabled", detail: error.message })),
      Effect.flatMap((result) =>
        Option.match(parseIsEnabled(result), {
          onSome: Effect.succeed,
          onNone: () =>
            Effect.fail(
              new AgentServiceError({ operation: "is-enabled", detail: `systemctl is-enabled ${UNIT}: ${lastLine(result)}` })
            )
        })
      )
    ),
    stop: control("stop"),
    start: control("start")
  }
  return AgentService.of(service)
})

export const make = makeWith()

export const layer: Layer.Layer<AgentService, never, Shell> = Layer.effect(AgentService, make)
