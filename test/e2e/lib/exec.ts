/** Runs programs asynchronously (never blocking the event loop that serves the repository). */
import { spawn } from "node:child_process"

export interface ExecOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  readonly input?: string
  /** Kills the process (SIGKILL) after this many ms; the result then has `timedOut`. */
  readonly timeoutMs?: number
  /** How to show the command in messages (default: argv). */
  readonly display?: ReadonlyArray<string>
  /**
   * Starts the process in a session and process group of its own (its pid is the group's id),
   * so that it can be killed together with everything it started: `kill(-pid, signal)`.
   */
  readonly detached?: boolean
}

export interface ExecResult {
  /** The command as shown in messages. */
  readonly argv: ReadonlyArray<string>
  readonly pid: number
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly startedAt: number
  readonly finishedAt: number
  readonly timedOut: boolean
}

export const DEFAULT_TIMEOUT_MS = 180_000

/** Starts `argv` and returns its pid at once together with a promise of its result. */
export const start = (
  argv: ReadonlyArray<string>,
  options: ExecOptions = {}
): { readonly pid: number; readonly done: Promise<ExecResult> } => {
  const [command, ...args] = argv
  if (command === undefined) throw new Error("exec: empty argv")
  const startedAt = Date.now()
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    detached: options.detached ?? false,
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let timedOut = false
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  child.stdin.on("error", () => undefined)
  child.stdin.end(options.input ?? "")
  const timer = setTimeout(() => {
    timedOut = true
    child.kill("SIGKILL")
  }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const done = new Promise<ExecResult>((resolve, reject) => {
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({
        argv: options.display ?? argv,
        pid: child.pid ?? -1,
        code,
        signal,
        stdout,
        stderr,
        startedAt,
        finishedAt: Date.now(),
        timedOut
      })
    })
  })
  return { pid: child.pid ?? -1, done }
}

export const exec = (argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> =>
  start(argv, options).done

/** A readable account of a finished command, for assertion and error messages. */
export const describeResult = (result: ExecResult): string =>
  [
    `$ ${result.argv.join(" ")}`,
    `exit ${result.code ?? `signal ${result.signal}`}${result.timedOut ? " (timed out)" : ""} after ${
      result.finishedAt - result.startedAt
    } ms`,
    `--- stdout\n${result.stdout.trimEnd()}`,
    `--- stderr\n${result.stderr.trimEnd()}`
  ].join("\n")

/** Runs `argv` and throws, with its output, unless it exits 0. */
export const execOk = async (argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> => {
  const result = await exec(argv, options)
  if (result.code !== 0) throw new Error(`command failed\n${describeResult(result)}`)
  return result
}
