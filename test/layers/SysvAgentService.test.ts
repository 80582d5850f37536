import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SysvAgentService from "../../src/layers/SysvAgentService.js"
import { Shell } from "../../src/services/Shell.js"
import { initScriptCommands, serviceCommands } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"
import { tempRoot, writeHostFile, writeHostProgram } from "../support/TempRoot.js"

const SEARCH_PATH = "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const withFakeHost = (init: FakeShell.FakeHostInit, prepare: (root: string) => Effect.Effect<void> = () => Effect.void) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    yield* prepare(root)
    const host = yield* FakeShell.make(init)
    const agent = yield* SysvAgentService.make({ root, searchPath: SEARCH_PATH }).pipe(
      Effect.provideService(Shell, host.shell)
    )
    return { host, agent }
  })

const serviceOnPath = (root: string) => writeHostProgram(root, "/sbin/service")

describe("SysvAgentService", () => {
  it.scoped("uses `service driveclient ...` when service is on PATH", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true }, serviceOnPath)
      expect(agent.kind).toBe("sysv")
      expect(yield* agent.isRunning).toBe(true)
      yield* agent.stop
      yield* agent.start
      expect(yield* host.commands).toEqual([serviceCommands.status, serviceCommands.stop, serviceCommands.start])
    }))

  it.scoped("falls back to /etc/init.d/driveclient when service is not on PATH", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true })
      yield* agent.isRunning
      yield* agent.stop
      yield* agent.start
      expect(yield* host.commands).toEqual([initScriptCommands.status, initScriptCommands.stop, initScriptCommands.start])
    }))

  it.scoped("a service file that is not executable, or outside PATH, does not count", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true }, (root) =>
        Effect.zipRight(
          writeHostFile(root, "/usr/sbin/service", "#!/bin/sh\n", 0o644),
          writeHostProgram(root, "/opt/tools/service")
        ))
      yield* agent.isRunning
      expect(yield* host.commands).toEqual([initScriptCommands.status])
    }))

  it.scoped("start discards the daemon's output so that it inherits no pipe", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: false }, serviceOnPath)
      yield* agent.start
      const [start] = yield* host.transcript
      expect(start!.output).toBe("discard")
      expect(start!.env).toEqual({})
    }))

  it.scoped.each([
    [0, true],
    [1, false],
    [2, false],
    [3, false]
  ] as const)("LSB status %i: running is %s", ([lsbStatus, running]) =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true, lsbStatus }, serviceOnPath)
      expect(yield* agent.isRunning).toBe(running)
    }))

  it.scoped("LSB status 4 is an AgentServiceError: status unknown", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true, lsbStatus: 4 }, serviceOnPath)
      const error = yield* Effect.flip(agent.isRunning)
      expect(error).toMatchObject({ _tag: "AgentServiceError", operation: "status" })
      expect(error.message).toContain("status unknown")
    }))

  it.scoped("a failed stop is an AgentServiceError with the script's last line", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost(
        { installed: "1.1.0-1", running: true, failures: { stop: "Stopping driveclient: [FAILED]" } },
        serviceOnPath
      )
      const error = yield* Effect.flip(agent.stop)
      expect(error.message).toBe("cannot stop the agent: Stopping driveclient: [FAILED]")
    }))

  it.scoped("a missing init script is an AgentServiceError", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({})
      const error = yield* Effect.flip(agent.isRunning)
      expect(error.message).toBe("cannot status the agent: /etc/init.d/driveclient: command not found")
    }))
})
