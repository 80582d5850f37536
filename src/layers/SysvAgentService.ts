/**
 * AgentService on SysV init: `service driveclient ...` when `service` is on PATH,
 * else the init script itself. Status follows the LSB exit codes.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AgentService, AgentServiceError, type AgentServiceShape } from "../services/AgentService.js"
import { type RunOptions, Shell } from "../services/Shell.js"
import { runChecked } from "./CheckedCommand.js"
import { findExecutable, processSearchPath } from "./HostFiles.js"

export interface SysvOptions {
  readonly root: string
  /** Where `service` is looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
}

const SERVICE_NAME = "driveclient"
export const INIT_SCRIPT = `/etc/init.d/${SERVICE_NAME}`

const STATUS_TIMEOUT = Duration.minutes(1)
const CONTROL_TIMEOUT = Duration.minutes(10)

type Action = "status" | "stop" | "start"

/** LSB: 0 running; 1 dead with a pidfile, 2 dead with a lockfile, 3 not running; 4 unknown. */
const LSB_NOT_RUNNING = new Set([1, 2, 3])

export const make = (options: SysvOptions) =>
  Effect.gen(function*() {
    const shell = yield* Shell
    const searchPath = options.searchPath ?? processSearchPath()

    const commandFor = (action: Action) =>
      findExecutable(options.root, "service", searchPath).pipe(
        Effect.map(Option.match({
          onNone: (): readonly [string, ...Array<string>] => [INIT_SCRIPT, action],
          onSome: (): readonly [string, ...Array<string>] => ["service", SERVICE_NAME, action]
        }))
      )

    // No env of ours (not even LC_ALL=C): the agent started here would inherit it.
    const control = (operation: "stop" | "start", runOptions: RunOptions) =>
      Effect.flatMap(commandFor(operation), (argv) =>
        runChecked(shell, argv, runOptions, (detail) => new AgentServiceError({ operation, detail }))).pipe(
          Effect.asVoid
        )

    const isRunning = Effect.gen(function*() {
      const result = yield* shell.run(yield* commandFor("status"), { timeout: STATUS_TIMEOUT }).pipe(
        Effect.mapError((error) => new AgentServiceError({ operation: "status", detail: error.message }))
      )
      if (result.exitCode === 0) return true
      if (LSB_NOT_RUNNING.has(result.exitCode)) return false
      return yield* new AgentServiceError({
        operation: "status",
        detail: `status unknown (exit status ${result.exitCode})`
      })
    })

    const service: AgentServiceShape = {
      kind: "sysv",
      isRunning,
      stop: control("stop", { timeout: CONTROL_TIMEOUT }),
      // The daemon the script starts must not inherit a pipe of the updater's.
      start: control("start", { timeout: CONTROL_TIMEOUT, output: "discard" })
    }
    return AgentService.of(service)
  })

export const layer = (options: SysvOptions): Layer.Layer<AgentService, never, Shell> =>
  Layer.effect(AgentService, make(options))
