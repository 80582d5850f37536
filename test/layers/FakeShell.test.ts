/** The fake host must not answer what the real tools would not: a test over it cannot pass by accident. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { APT_INSTALL } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"

describe("FakeShell", () => {
  it.effect("an unknown program exits 127 and is recorded", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make()
      const result = yield* host.shell.run(["sh", "-c", "apt-get install driveclient"])
      expect(result.exitCode).toBe(127)
      expect((yield* host.transcript)[0]).toMatchObject({ argv: ["sh", "-c", "apt-get install driveclient"], exit: 127 })
    }))

  it.effect("shell-quoted arguments are not understood", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.1.0-1" })
      const quoted = yield* host.shell.run(["dpkg-query", "-W", "-f='${db:Status-Status} ${Version}\\n'", "driveclient"])
      expect(quoted.exitCode).not.toBe(0)
      const rpmQuoted = yield* host.shell.run(["rpm", "-q", "--qf", "'%{VERSION}-%{RELEASE}\\n'", "driveclient"])
      expect(rpmQuoted.exitCode).not.toBe(0)
    }))

  it.effect("dnf-only options are refused by yum", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make()
      expect((yield* host.shell.run(["yum", "-y", "makecache", "--refresh"])).exitCode).not.toBe(0)
      expect((yield* host.shell.run(["dnf", "-y", "makecache", "--refresh"])).exitCode).toBe(0)
    }))

  it.effect("a transaction longer than the Shell timeout is killed", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({
        installed: "1.1.0-1",
        offered: ["1.2.0-1"],
        refreshed: true,
        transactionTime: "2 hours"
      })
      const fiber = yield* Effect.fork(host.shell.run(APT_INSTALL, { timeout: "30 minutes" }))
      yield* host.whenStarted(APT_INSTALL)
      yield* TestClock.adjust("30 minutes")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error.reason).toBe("TimedOut")
      expect((yield* host.state).installed?.version).toBe("1.1.0-1")
    }))
})
