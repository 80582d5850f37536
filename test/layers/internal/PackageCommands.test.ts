import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { packageCommands, QUERY_TIMEOUT } from "../../../src/layers/internal/PackageCommands.js"
import { type CommandResult, ShellError, type ShellShape } from "../../../src/services/Shell.js"

/** A shell answering `answer`, recording the argv and options of every run. */
const recordingShell = (answer: CommandResult | ShellError) => {
  const runs: Array<{ argv: ReadonlyArray<string>; env: unknown; timeout: unknown }> = []
  const shell: ShellShape = {
    run: (argv, options) => {
      runs.push({ argv, env: options?.env, timeout: options?.timeout })
      return "exitCode" in answer ? Effect.succeed(answer) : Effect.fail(answer)
    }
  }
  return { runs, shell }
}

const ENV = { LC_ALL: "C" }

describe("PackageCommands", () => {
  it.effect("runs the argument vector in the environment, with the timeout", () =>
    Effect.gen(function*() {
      const { runs, shell } = recordingShell({ exitCode: 0, stdout: "ok\n", stderr: "" })
      const result = yield* packageCommands(shell, ENV).runChecked("rpm -q", ["rpm", "-q", "driveclient"], QUERY_TIMEOUT)
      expect(result.stdout).toBe("ok\n")
      expect(runs).toEqual([{ argv: ["rpm", "-q", "driveclient"], env: ENV, timeout: Duration.minutes(2) }])
    }))

  it.effect("runChecked: a non-zero exit is the operation's failure, with the tool's error line", () =>
    Effect.gen(function*() {
      const { shell } = recordingShell({ exitCode: 100, stdout: "Reading package lists...\n", stderr: "E: Unable to locate package driveclient\n" })
      const error = yield* Effect.flip(packageCommands(shell, ENV).runChecked("apt-get install", ["apt-get", "install"], QUERY_TIMEOUT))
      expect(error).toMatchObject({ _tag: "PackageManagerError", operation: "apt-get install", detail: "E: Unable to locate package driveclient" })
    }))

  it.effect("a command that cannot run is the operation's failure in every form", () =>
    Effect.gen(function*() {
      const { shell } = recordingShell(new ShellError({ argv: ["dnf"], reason: "TimedOut", detail: "timed out after 10m" }))
      const commands = packageCommands(shell, ENV)
      for (const run of [commands.run, commands.runChecked]) {
        const error = yield* Effect.flip(run("dnf makecache", ["dnf", "makecache"], QUERY_TIMEOUT))
        expect(error.message).toBe("dnf makecache failed: dnf: timed out after 10m")
      }
      const error = yield* Effect.flip(commands.runAccepting("dnf makecache", ["dnf", "makecache"], QUERY_TIMEOUT, () => true))
      expect(error.message).toBe("dnf makecache failed: dnf: timed out after 10m")
    }))

  it.effect("runAccepting: an accepted non-zero exit is a result; another is a failure", () =>
    Effect.gen(function*() {
      const { shell } = recordingShell({ exitCode: 1, stdout: "package driveclient is not installed\n", stderr: "" })
      const commands = packageCommands(shell, ENV)
      const accepted = yield* commands.runAccepting("rpm -q", ["rpm", "-q"], QUERY_TIMEOUT, (result) => /not installed/.test(result.stdout))
      expect(accepted.exitCode).toBe(1)
      const error = yield* Effect.flip(commands.runAccepting("rpm -q", ["rpm", "-q"], QUERY_TIMEOUT, () => false))
      expect(error.detail).toBe("package driveclient is not installed")
    }))

  it.effect("run leaves the exit status to the caller", () =>
    Effect.gen(function*() {
      const { shell } = recordingShell({ exitCode: 2, stdout: "", stderr: "dpkg: error\n" })
      expect((yield* packageCommands(shell, ENV).run("dpkg --audit", ["dpkg", "--audit"], QUERY_TIMEOUT)).exitCode).toBe(2)
    }))
})
