/**
 * Shell on node:child_process. Programs are spawned with an argument vector; the
 * child inherits only stdin/stdout/stderr (Node opens every other descriptor
 * close-on-exec). Captured output goes to unlinked temporary files, not pipes: a
 * daemon the child starts (a SysV postinst's, say) inherits them, and with a file
 * it neither holds the updater up by keeping a pipe open nor dies of SIGPIPE once
 * the updater stops reading. A run ends on the child's own exit, never waiting for
 * its descendants. A child still running at its timeout, or when the effect is
 * interrupted, gets SIGTERM and then SIGKILL after a grace period.
 */
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process"
import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Shell, ShellError, type ShellShape } from "../services/Shell.js"

const DEFAULT_TIMEOUT = Duration.minutes(10)
const KILL_GRACE_MS = 5_000
/** The most of each stream that a result holds. */
export const MAX_CAPTURE = 4 * 1024 * 1024

export interface NodeShellOptions {
  readonly killGraceMs?: number
}

type Argv = readonly [string, ...Array<string>]

export const make = (options: NodeShellOptions = {}): ShellShape => ({
  run: (argv, runOptions = {}) => {
    const child: ChildOptions = {
      env: { ...process.env, ...runOptions.env },
      timeoutMs: Duration.toMillis(runOptions.timeout ?? DEFAULT_TIMEOUT),
      graceMs: options.killGraceMs ?? KILL_GRACE_MS
    }
    if (runOptions.output === "discard") {
      return Effect.map(awaitExit(argv, "ignore", child), (exitCode) => ({ exitCode, stdout: "", stderr: "" }))
    }
    return Effect.scoped(Effect.gen(function*() {
      const stdout = yield* captureFile(argv)
      const stderr = yield* captureFile(argv)
      const exitCode = yield* awaitExit(argv, ["ignore", stdout.fd, stderr.fd], child)
      return {
        exitCode,
        stdout: yield* readBack(argv, exitCode, stdout),
        stderr: yield* readBack(argv, exitCode, stderr)
      }
    }))
  }
})

/**
 * An open file that no other process can open: created exclusively, owner-only, and
 * unlinked at once, so it vanishes with its last descriptor, the updater's or a daemon's.
 */
const captureFile = (argv: Argv): Effect.Effect<fs.FileHandle, ShellError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const file = path.join(os.tmpdir(), `cloudbackup-updater-${randomBytes(8).toString("hex")}`)
        const handle = await fs.open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
        try {
          await fs.unlink(file)
        } catch (error) {
          await handle.close()
          throw error
        }
        return handle
      },
      catch: (error) => new ShellError({ argv, reason: "SpawnFailed", detail: `cannot capture its output: ${describe(error)}` })
    }),
    (handle) => Effect.ignore(Effect.tryPromise(() => handle.close()))
  )

/** What the child wrote to `handle`, up to MAX_CAPTURE bytes. Its descendants may still be writing. */
const readBack = (argv: Argv, exitCode: number, handle: fs.FileHandle): Effect.Effect<string, ShellError> =>
  Effect.tryPromise({
    try: async () => {
      // The end is kept: that is where a failing command says why.
      const size = (await handle.stat()).size
      const start = Math.max(0, size - MAX_CAPTURE)
      const buffer = Buffer.alloc(size - start)
      let length = 0
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, start + length)
        if (bytesRead === 0) break
        length += bytesRead
      }
      return buffer.subarray(0, length).toString("utf8")
    },
    catch: (error) =>
      new ShellError({
        argv,
        reason: "SpawnFailed",
        detail: `exited with status ${exitCode}, but its output cannot be read: ${describe(error)}`
      })
  })

interface ChildOptions {
  readonly env: NodeJS.ProcessEnv
  readonly timeoutMs: number
  readonly graceMs: number
}

/** The child's exit status, once the child itself has exited; its descendants are not waited for. */
const awaitExit = (argv: Argv, stdio: StdioOptions, options: ChildOptions): Effect.Effect<number, ShellError> =>
  Effect.async<number, ShellError>((settle) => {
    let child: ChildProcess
    try {
      child = spawn(argv[0], argv.slice(1), { env: options.env, stdio, shell: false })
    } catch (error) {
      settle(Effect.fail(new ShellError({ argv, reason: "SpawnFailed", detail: describe(error) })))
      return
    }

    let killTimer: NodeJS.Timeout | undefined
    let timedOut = false
    const terminate = () => {
      if (exited(child) || killTimer !== undefined) return
      child.kill("SIGTERM")
      killTimer = setTimeout(() => child.kill("SIGKILL"), options.graceMs)
    }
    const timeoutTimer = setTimeout(() => {
      timedOut = true
      terminate()
    }, options.timeoutMs)
    const clearTimers = () => {
      clearTimeout(timeoutTimer)
      if (killTimer !== undefined) clearTimeout(killTimer)
    }

    // Also emitted when a signal cannot be sent: only a child that never started has failed.
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return
      clearTimers()
      settle(Effect.fail(
        new ShellError({
          argv,
          reason: error.code === "ENOENT" ? "NotFound" : "SpawnFailed",
          detail: error.code === "ENOENT" ? "command not found" : error.message
        })
      ))
    })
    child.once("exit", (code, signal) => {
      clearTimers()
      settle(
        timedOut
          ? Effect.fail(
            new ShellError({ argv, reason: "TimedOut", detail: `still running after ${Duration.format(options.timeoutMs)}` })
          )
          : Effect.succeed(code ?? 128 + (signal === null ? 0 : os.constants.signals[signal]))
      )
    })

    // Interrupted: the effect ends only once the child is gone.
    return Effect.async<void>((done) => {
      clearTimeout(timeoutTimer)
      if (exited(child) || child.pid === undefined) return done(Effect.void)
      child.once("exit", () => done(Effect.void))
      terminate()
    })
  })

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const layer = (options: NodeShellOptions = {}): Layer.Layer<Shell> => Layer.succeed(Shell, make(options))
