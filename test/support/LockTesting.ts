/** Real processes, lock contents and a step-by-step FileLock for the lock tests. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import type { FileLockShape } from "../../src/services/FileLock.js"

/** The forms the agent may write its pid in. */
export const lockForms: ReadonlyArray<readonly [string, (pid: number) => string]> = [
  ["a bare pid", (pid) => `${pid}\n`],
  ["pid=N", (pid) => `pid=${pid}\n`],
  ["a word and a pid", (pid) => `agent ${pid}\n`],
  ["JSON", (pid) => JSON.stringify({ pid })]
]

export const tempLockPath = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lock-test-")), "sub", "x.lock")

export const writeLock = (file: string, content: string, modifiedAt?: number) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
  if (modifiedAt !== undefined) fs.utimesSync(file, modifiedAt / 1000, modifiedAt / 1000)
}

/** The pid of a process that has exited (and been reaped). */
export const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"])
  return Number(child.stdout.toString())
}

const children: Array<ChildProcess> = []

/** Kills what `liveProcess` started; for `afterEach`. */
export const killChildren = () => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
}

/** A live process (`sleep`, or node running `<dir>/<script>`), and a way to end it and wait until it is gone. */
export const liveProcess = (script?: string) => {
  const child = script === undefined
    ? spawn("sleep", ["600"], { stdio: "ignore" })
    : spawn(process.execPath, [writeScript(script)], { stdio: "ignore" })
  children.push(child)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    pid: child.pid!,
    /** Until its command line is the program's own: right after the fork it is still ours. */
    started: Effect.promise(async () => {
      const wanted = script ?? "sleep"
      while (!(fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes(wanted))) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }),
    kill: Effect.promise(() => {
      child.kill("SIGKILL")
      return exited
    })
  }
}

const writeScript = (script: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lock-test-bin-")), script)
  fs.writeFileSync(file, "setInterval(() => {}, 1000)\n")
  return file
}

export const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/**
 * A FileLock whose waits are under the test's control: each wait for a held lock is
 * announced on `waits` and lasts until the test offers a step. A lock that is gone is
 * not waited for, as with the real one.
 */
export const steppedLocks = (live: FileLockShape) =>
  Effect.gen(function*() {
    const waits = yield* Queue.unbounded<void>()
    const steps = yield* Queue.unbounded<void>()
    const locks: FileLockShape = {
      ...live,
      awaitChange: (file) =>
        Effect.suspend(() => fs.existsSync(file) ? Effect.zipRight(Queue.offer(waits, undefined), Queue.take(steps)) : Effect.void)
    }
    return { locks, waits, step: Queue.offer(steps, undefined) }
  })
