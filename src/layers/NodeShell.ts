/**
 * Shell on node:child_process. Programs are spawned with an argument vector; the
 * child inherits only stdin/stdout/stderr (Node opens every other descriptor
 * close-on-exec). A child still running at its timeout, or when the effect is
 * interrupted, gets SIGTERM and then SIGKILL after a grace period.
 */
import { spawn } from "node:child_process"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type CommandResult, Shell, ShellError, type ShellService } from "../services/Shell.js"

const DEFAULT_TIMEOUT = Duration.minutes(10)
const KILL_GRACE_MS = 5_000
const MAX_CAPTURE = 4 * 1024 * 1024

export interface NodeShellOptions {
  readonly killGraceMs?: number
}

export const make = (options: NodeShellOptions = {}): ShellService => ({
  run: (argv, runOptions = {}) =>
    Effect.async<CommandResult, ShellError>((settle) => {
      // A failed spawn emits "error" and then "close": only the first outcome counts.
      let settled = false
      const resume = (result: Effect.Effect<CommandResult, ShellError>) => {
        if (settled) return
        settled = true
        settle(result)
      }
      const graceMs = options.killGraceMs ?? KILL_GRACE_MS
      const timeoutMs = Duration.toMillis(runOptions.timeout ?? DEFAULT_TIMEOUT)
      const capture = runOptions.output !== "discard"
      const child = spawn(argv[0], argv.slice(1), {
        env: { ...process.env, ...runOptions.env },
        stdio: capture ? ["ignore", "pipe", "pipe"] : "ignore",
        shell: false
      })
      const stdout: Array<Buffer> = []
      const stderr: Array<Buffer> = []
      let captured = 0
      const collect = (into: Array<Buffer>) => (chunk: Buffer) => {
        if (captured >= MAX_CAPTURE) return
        captured += chunk.length
        into.push(chunk)
      }
      child.stdout?.on("data", collect(stdout))
      child.stderr?.on("data", collect(stderr))

      let killTimer: NodeJS.Timeout | undefined
      let timedOut = false
      const terminate = () => {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.kill("SIGTERM")
        killTimer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      }
      const timeoutTimer = setTimeout(() => {
        timedOut = true
        terminate()
      }, timeoutMs)
      const clearTimers = () => {
        clearTimeout(timeoutTimer)
        if (killTimer !== undefined) clearTimeout(killTimer)
      }

      child.once("error", (error: NodeJS.ErrnoException) => {
        clearTimers()
        resume(Effect.fail(
          new ShellError({
            argv,
            reason: error.code === "ENOENT" ? "NotFound" : "SpawnFailed",
            detail: error.code === "ENOENT" ? "command not found" : error.message
          })
        ))
      })
      // "close", not "exit": all output has been read by then.
      child.once("close", (code, signal) => {
        clearTimers()
        if (timedOut) {
          resume(Effect.fail(
            new ShellError({ argv, reason: "TimedOut", detail: `still running after ${Duration.format(timeoutMs)}` })
          ))
          return
        }
        resume(Effect.succeed({
          exitCode: code ?? 128 + signalNumber(signal),
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8")
        }))
      })

      // Interrupted: the effect ends only once the child is gone.
      return Effect.async<void>((done) => {
        clearTimeout(timeoutTimer)
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return done(Effect.void)
        child.once("close", () => done(Effect.void))
        terminate()
      })
    })
})

const signalNumber = (signal: NodeJS.Signals | null): number =>
  signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : signal === "SIGINT" ? 2 : 0

export const layer = (options: NodeShellOptions = {}): Layer.Layer<Shell> => Layer.succeed(Shell, make(options))
