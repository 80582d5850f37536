/**
 * AgentService on SysV init: `service driveclient ...` when `service` is on PATH,
 * else the init script itself. Status follows the LSB exit codes; the agent's start
 * time comes from its pidfile and the process table.
 */
import * as fs from "node:fs"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pidInLock, TIME_SLACK_MILLIS } from "../domain/LockContent.js"
import { AgentService, AgentServiceError, type AgentServiceShape } from "../services/AgentService.js"
import { type RunOptions, Shell } from "../services/Shell.js"
import { runChecked } from "./internal/CheckedCommand.js"
import { findExecutable, listDirectoryIfExists, processSearchPath, underRoot } from "./internal/HostFiles.js"
import { processStartTime } from "./internal/ProcessTable.js"

export interface SysvOptions {
  readonly root: string
  /** Where `service` is looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
  /** The process table, under `root` like every other path; `/proc` by default. */
  readonly procDir?: string
}

const SERVICE_NAME = "driveclient"
export const INIT_SCRIPT = `/etc/init.d/${SERVICE_NAME}`

/** Where the init script leaves the agent's pid; `/var/run` is a link to `/run` on current systems. */
export const AGENT_PIDFILES: ReadonlyArray<string> = [`/var/run/${SERVICE_NAME}.pid`, `/run/${SERVICE_NAME}.pid`]

const STATUS_TIMEOUT = Duration.minutes(1)
const CONTROL_TIMEOUT = Duration.minutes(10)

type Action = "status" | "stop" | "start"

/** The multi-user runlevels' link directories: Debian's layout, then Red Hat's. */
export const RC_DIRECTORIES: ReadonlyArray<string> = [2, 3, 4, 5].flatMap((level) => [
  `/etc/rc${level}.d`,
  `/etc/rc.d/rc${level}.d`
])

const START_LINK = new RegExp(`^S\\d\\d${SERVICE_NAME}$`)
const KILL_LINK = new RegExp(`^K\\d\\d${SERVICE_NAME}$`)

/**
 * Disabled only when the rc links say so: `K??driveclient` links and no `S??driveclient`
 * in any multi-user runlevel. No links at all (a chroot, a package that never ran
 * update-rc.d or chkconfig) leaves the choice to start.
 */
export const enabledByLinks = (names: ReadonlyArray<string>): boolean =>
  names.some((name) => START_LINK.test(name)) || !names.some((name) => KILL_LINK.test(name))

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

    const procDir = underRoot(options.root, options.procDir ?? "/proc")

    /** The start of the process a pidfile names, unless that pid was reused: its process is younger than the file. */
    const startOfPidfile = (pidfile: string): Option.Option<number> => {
      try {
        const pid = pidInLock(fs.readFileSync(pidfile, "utf8"))
        const written = fs.statSync(pidfile).mtimeMs
        return Option.flatMap(pid, (p) => Option.fromNullable(processStartTime(p, procDir))).pipe(
          Option.filter((started) => started <= written + TIME_SLACK_MILLIS)
        )
      } catch {
        return Option.none()
      }
    }

    const startedAt = Effect.sync(() =>
      Option.firstSomeOf(AGENT_PIDFILES.map((pidfile) => startOfPidfile(underRoot(options.root, pidfile))))
    )

    const isEnabled = Effect.forEach(RC_DIRECTORIES, (dir) => listDirectoryIfExists(underRoot(options.root, dir))).pipe(
      Effect.mapError((error) => new AgentServiceError({ operation: "is-enabled", detail: error.message })),
      Effect.map((listings) => enabledByLinks(listings.flat()))
    )

    const service: AgentServiceShape = {
      kind: "sysv",
      isRunning,
      startedAt,
      isEnabled,
      stop: control("stop", { timeout: CONTROL_TIMEOUT }),
      // The daemon the script starts must not inherit a pipe of the updater's.
      start: control("start", { timeout: CONTROL_TIMEOUT, output: "discard" })
    }
    return AgentService.of(service)
  })

export const layer = (options: SysvOptions): Layer.Layer<AgentService, never, Shell> =>
  Layer.effect(AgentService, make(options))
