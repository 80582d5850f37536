import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as NodeShell from "../../src/layers/NodeShell.js"

// Generous: a run that waits for a grandchild would take 300 s, far beyond it.
const HANG = 60_000

const shell = NodeShell.make({ killGraceMs: 100 })
const node = process.execPath

/** Files the tests' processes write their pids to; whatever they name is killed after each test. */
const pidFiles: Array<string> = []
afterEach(() => {
  for (const file of pidFiles.splice(0)) {
    const pid = Number(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : NaN)
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // Already gone.
      }
    }
  }
})

const pidFile = (): string => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "shell-test-")), "pid")
  pidFiles.push(file)
  return file
}

/** The pid written to `file`, once the process has written all of it. */
const pidIn = (file: string): Effect.Effect<number> =>
  Effect.suspend(() => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
    return text.endsWith("\n") ? Effect.succeed(Number(text)) : Effect.sleep("10 millis").pipe(Effect.zipRight(pidIn(file)))
  })

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const openFds = (): number => fs.readdirSync("/proc/self/fd").length

describe("NodeShell", () => {
  it.live("returns on the child's exit while a grandchild it started keeps its output open", () =>
    Effect.gen(function*() {
      const grandchild = pidFile()
      const result = yield* shell.run(["sh", "-c", "sleep 300 & echo $! > \"$1\"; echo started", "sh", grandchild])
      expect(result).toEqual({ exitCode: 0, stdout: "started\n", stderr: "" })
      expect(isAlive(yield* pidIn(grandchild))).toBe(true)
    }), HANG)

  it.live("times out a child whose grandchild keeps its output open", () =>
    Effect.gen(function*() {
      const grandchild = pidFile()
      const error = yield* Effect.flip(
        shell.run(["sh", "-c", "sleep 300 & echo $! > \"$1\"; echo started; wait", "sh", grandchild], {
          timeout: "200 millis"
        })
      )
      expect(error.reason).toBe("TimedOut")
    }), HANG)

  it.live("kills a child that ignores SIGTERM at its timeout, whatever its grandchild does", () =>
    Effect.gen(function*() {
      const grandchild = pidFile()
      const child = pidFile()
      const error = yield* Effect.flip(
        shell.run([
          "sh",
          "-c",
          "trap '' TERM; sleep 300 & echo $! > \"$1\"; echo $$ > \"$2\"; while :; do wait; done",
          "sh",
          grandchild,
          child
        ], { timeout: "200 millis" })
      )
      expect(error.reason).toBe("TimedOut")
      expect(isAlive(yield* pidIn(child))).toBe(false)
    }), HANG)

  it.live("captures stdout and stderr separately, in unlinked owner-only files rather than pipes", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "shell-tmp-"))
      const describeFd = [
        "const fs = require('fs')",
        "for (const fd of [1, 2]) {",
        "  const stat = fs.fstatSync(fd)",
        "  const line = [fs.readlinkSync('/proc/self/fd/' + fd), stat.isFile(), stat.nlink, (stat.mode & 0o777).toString(8)].join(' ')",
        "  fs.writeSync(fd, line + '\\n')",
        "}"
      ].join("\n")
      const previous = process.env.TMPDIR
      process.env.TMPDIR = tmp
      const result = yield* shell.run([node, "-e", describeFd]).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (previous === undefined) delete process.env.TMPDIR
          else process.env.TMPDIR = previous
        }))
      )
      expect(result.exitCode).toBe(0)
      const unlinkedPrivateFile = new RegExp(`^${tmp}/[^/]+ \\(deleted\\) true 0 600\\n$`)
      expect(result.stdout).toMatch(unlinkedPrivateFile)
      expect(result.stderr).toMatch(unlinkedPrivateFile)
      expect(result.stdout).not.toBe(result.stderr)
      expect(fs.readdirSync(tmp)).toEqual([])
    }))

  it.live("caps each captured stream, keeping its end, where a failing command says why", () =>
    Effect.gen(function*() {
      const result = yield* shell.run([
        node,
        "-e",
        `const big = "x".repeat(${NodeShell.MAX_CAPTURE + 1024 * 1024})
         require("fs").writeSync(1, big + "E: the last line\\n"); require("fs").writeSync(2, big)`
      ])
      expect(result.exitCode).toBe(0)
      expect(result.stdout.length).toBe(NodeShell.MAX_CAPTURE)
      expect(result.stdout.endsWith("xE: the last line\n")).toBe(true)
      expect(result.stderr.length).toBe(NodeShell.MAX_CAPTURE)
    }))

  it.live("runs an argument vector, never a shell, with the environment merged", () =>
    Effect.gen(function*() {
      const result = yield* shell.run(["sh", "-c", "printf '%s|%s|%s\\n' \"$1\" \"$SHELL_TEST\" \"$HOME\"", "sh", "$HOME; echo no"], {
        env: { SHELL_TEST: "merged" }
      })
      expect(result.stdout).toBe(`$HOME; echo no|merged|${process.env.HOME}\n`)
    }))

  it.live("connects stdio to /dev/null when output is discarded", () =>
    Effect.gen(function*() {
      const result = yield* shell.run([
        node,
        "-e",
        "const fs = require('fs'); process.exit([0, 1, 2].every((fd) => fs.readlinkSync('/proc/self/fd/' + fd) === '/dev/null') ? 7 : 1)"
      ], { output: "discard" })
      expect(result).toEqual({ exitCode: 7, stdout: "", stderr: "" })
    }))

  it.live("reports a signalled child as 128 + the signal, and a missing program as NotFound", () =>
    Effect.gen(function*() {
      expect((yield* shell.run(["sh", "-c", "echo going; kill -TERM $$"])).exitCode).toBe(143)
      expect((yield* shell.run(["sh", "-c", "kill -KILL $$"])).exitCode).toBe(137)
      const missing = yield* Effect.flip(shell.run(["/nonexistent/program"]))
      expect(missing.reason).toBe("NotFound")
    }))

  it.live("on interruption, ends once the child is gone and not before, whatever its grandchild does", () =>
    Effect.gen(function*() {
      const grandchild = pidFile()
      const child = pidFile()
      const fiber = yield* Effect.fork(shell.run([
        "sh",
        "-c",
        "trap '' TERM; sleep 300 & echo $! > \"$1\"; echo $$ > \"$2\"; while :; do wait; done",
        "sh",
        grandchild,
        child
      ]))
      const pid = yield* pidIn(child)
      yield* pidIn(grandchild)
      yield* Fiber.interrupt(fiber)
      expect(isAlive(pid)).toBe(false)
    }), HANG)

  it.live("leaves no descriptor open", () =>
    Effect.gen(function*() {
      const runs = Effect.all([
        shell.run(["echo", "warm-up"]),
        shell.run(["sh", "-c", "echo out; echo err >&2; exit 3"]),
        shell.run(["echo", "discarded"], { output: "discard" }),
        Effect.flip(shell.run(["/nonexistent/program"])),
        Effect.flip(shell.run(["sleep", "300"], { timeout: "50 millis" })),
        Effect.fork(shell.run(["sleep", "300"])).pipe(
          Effect.tap(() => Effect.sleep("50 millis")),
          Effect.flatMap(Fiber.interrupt)
        )
      ])
      yield* runs
      const before = openFds()
      yield* runs
      yield* runs
      expect(openFds()).toBe(before)
    }), HANG)
})
