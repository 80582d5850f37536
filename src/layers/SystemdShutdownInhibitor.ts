/**
 * ShutdownInhibitor on systemd: `systemd-inhibit --mode=block ... cat` holds a
 * shutdown lock from logind for as long as `cat` runs. `cat` reads a pipe from
 * the updater, so it ends when the pipe closes — when the scope closes, or when
 * the updater dies, however it dies: nothing is left behind. Where the lock
 * cannot be taken (no systemd-inhibit, no logind, no D-Bus) the upgrade goes on
 * with a warning.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type { ServiceManagerKind } from "../services/AgentService.js"
import { none, ShutdownInhibitor, type ShutdownInhibitorShape } from "../services/ShutdownInhibitor.js"
import { processSearchPath } from "./internal/HostFiles.js"

export interface SystemdShutdownInhibitorOptions {
  /** Where systemd-inhibit is looked for; the updater's own `PATH` by default. */
  readonly searchPath?: string
  /** How long systemd-inhibit must keep running to count as holding the lock. */
  readonly settle?: Duration.DurationInput
  /** How long it gets to end once its input is closed, before SIGKILL. */
  readonly killGrace?: Duration.DurationInput
}

const DEFAULT_SETTLE = Duration.millis(500)
const DEFAULT_KILL_GRACE = Duration.seconds(5)

export const inhibitArgv = (why: string): readonly [string, ...Array<string>] => [
  "systemd-inhibit",
  "--what=shutdown",
  "--who=cloudbackup-updater",
  `--why=${why}`,
  "--mode=block",
  "cat"
]

type Ending =
  | { readonly _tag: "Exited"; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly _tag: "SpawnFailed"; readonly error: NodeJS.ErrnoException }

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

/**
 * Returns when the child has exited or could not be started, or none after `limit`.
 * It times itself rather than being interrupted: acquisition and release run
 * uninterruptibly, and an interruption must never leave the child unreleased.
 */
const ending = (child: ChildProcess, limit?: Duration.Duration): Effect.Effect<Option.Option<Ending>> =>
  Effect.async<Option.Option<Ending>>((resume) => {
    if (hasExited(child)) {
      resume(Effect.succeed(Option.some({ _tag: "Exited", code: child.exitCode, signal: child.signalCode })))
      return
    }
    let timer: NodeJS.Timeout | undefined
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => finish(Option.some({ _tag: "Exited", code, signal }))
    const onError = (error: NodeJS.ErrnoException) => finish(Option.some({ _tag: "SpawnFailed", error }))
    const cleanUp = () => {
      if (timer !== undefined) clearTimeout(timer)
      child.off("exit", onExit)
      child.off("error", onError)
    }
    const finish = (outcome: Option.Option<Ending>) => {
      cleanUp()
      resume(Effect.succeed(outcome))
    }
    child.once("exit", onExit)
    child.once("error", onError)
    if (limit !== undefined) timer = setTimeout(() => finish(Option.none()), Duration.toMillis(limit))
    return Effect.sync(cleanUp)
  })

const describeEnding = (end: Ending): string =>
  end._tag === "SpawnFailed"
    ? end.error.code === "ENOENT" ? "systemd-inhibit is not on PATH" : `systemd-inhibit: ${end.error.message}`
    : end.signal !== null
    ? `systemd-inhibit was killed by ${end.signal}`
    : `systemd-inhibit exited with status ${end.code}`

/** SIGKILL to the child's process group: systemd-inhibit and the `cat` it runs. */
const killGroup = (child: ChildProcess): void => {
  if (child.pid === undefined || hasExited(child)) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    child.kill("SIGKILL")
  }
}

export const make = (options: SystemdShutdownInhibitorOptions = {}): ShutdownInhibitorShape => {
  const settle = Duration.decode(options.settle ?? DEFAULT_SETTLE)
  const killGrace = Duration.decode(options.killGrace ?? DEFAULT_KILL_GRACE)
  const env = { ...process.env, PATH: options.searchPath ?? processSearchPath() }

  const acquire = (why: string) =>
    Effect.gen(function*() {
      const argv = inhibitArgv(why)
      const notBlocked = (reason: string) =>
        Effect.logWarning(`${reason}: shutdown is not blocked while the agent is upgraded`).pipe(Effect.as(undefined))
      let child: ChildProcess
      try {
        // Its own process group, so that a SIGKILL reaches `cat` too.
        child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "ignore", "ignore"], env, detached: true, shell: false })
      } catch (error) {
        return yield* notBlocked(`systemd-inhibit: ${error instanceof Error ? error.message : String(error)}`)
      }
      // `cat` never reads anything from us; a write error after it ends is of no interest.
      child.stdin?.on("error", () => undefined)
      const early = yield* ending(child, settle)
      if (Option.isSome(early)) return yield* notBlocked(describeEnding(early.value))

      const runtime = yield* Effect.runtime<never>()
      const closing = { value: false }
      child.once("exit", (code, signal) => {
        if (closing.value) return
        Runtime.runFork(runtime)(
          notBlocked(`${describeEnding({ _tag: "Exited", code, signal })} while the shutdown lock was wanted`)
        )
      })
      yield* Effect.logDebug(`holding a shutdown lock (systemd-inhibit, pid ${child.pid})`)
      return { child, closing }
    })

  const release = (held: { readonly child: ChildProcess; readonly closing: { value: boolean } } | undefined) =>
    Effect.gen(function*() {
      if (held === undefined) return
      const { child } = held
      held.closing.value = true
      // End of input ends `cat`; systemd-inhibit then exits and logind drops the lock.
      child.stdin?.destroy()
      const ended = yield* ending(child, killGrace)
      if (Option.isSome(ended)) return
      yield* Effect.logWarning(
        `systemd-inhibit still running ${Duration.format(killGrace)} after its input was closed; killing it`
      )
      killGroup(child)
      yield* ending(child)
    })

  return {
    hold: (why) => Effect.asVoid(Effect.acquireRelease(acquire(why), release))
  }
}

export const layer = (options: SystemdShutdownInhibitorOptions = {}): Layer.Layer<ShutdownInhibitor> =>
  Layer.succeed(ShutdownInhibitor, make(options))

/** systemd-inhibit where systemd is the service manager; nothing elsewhere. */
export const layerFor = (
  serviceManager: ServiceManagerKind,
  options: SystemdShutdownInhibitorOptions = {}
): Layer.Layer<ShutdownInhibitor> => serviceManager === "systemd" ? layer(options) : none
