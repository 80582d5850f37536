import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SystemdAgentService from "../../src/layers/SystemdAgentService.js"
import { Shell, ShellError, type ShellService } from "../../src/services/Shell.js"
import { cannedShell } from "../support/CannedShell.js"
import { systemdCommands } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"

const serviceOver = (shell: ShellService) => SystemdAgentService.make.pipe(Effect.provideService(Shell, shell))

const withFakeHost = (init: FakeShell.FakeHostInit) =>
  Effect.gen(function*() {
    const host = yield* FakeShell.make(init)
    return { host, agent: yield* serviceOver(host.shell) }
  })

describe("SystemdAgentService", () => {
  it.effect("isRunning: systemctl is-active --quiet exits 0 for a running agent", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true })
      expect(agent.kind).toBe("systemd")
      expect(yield* agent.isRunning).toBe(true)
      expect(yield* host.commands).toEqual([systemdCommands.status])
    }))

  it.effect("isRunning: inactive (3) and no such unit (4) are not running", () =>
    Effect.gen(function*() {
      expect(yield* (yield* withFakeHost({ installed: "1.1.0-1", running: false })).agent.isRunning).toBe(false)
      expect(yield* (yield* withFakeHost({})).agent.isRunning).toBe(false)
    }))

  it.effect("stop and start run systemctl with the unit name", () =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true })
      yield* agent.stop
      expect((yield* host.state).running).toBe(false)
      yield* agent.start
      expect((yield* host.state).running).toBe(true)
      expect(yield* host.commands).toEqual([systemdCommands.stop, systemdCommands.start])
    }))

  it.effect("a failed stop is an AgentServiceError with systemctl's last line", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({
        installed: "1.1.0-1",
        running: true,
        failures: { stop: "Job for driveclient.service canceled." }
      })
      const error = yield* Effect.flip(agent.stop)
      expect(error).toMatchObject({ _tag: "AgentServiceError", operation: "stop" })
      expect(error.message).toBe("cannot stop the agent: Job for driveclient.service canceled.")
    }))

  it.effect("a failed start is an AgentServiceError", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({})
      const error = yield* Effect.flip(agent.start)
      expect(error.message).toBe("cannot start the agent: Failed to start driveclient.service: Unit driveclient.service not found.")
    }))

  it.effect("systemctl missing altogether is an AgentServiceError, not a defect", () =>
    Effect.gen(function*() {
      const agent = yield* serviceOver(
        cannedShell(new ShellError({ argv: ["systemctl"], reason: "NotFound", detail: "command not found" }))
      )
      const error = yield* Effect.flip(agent.isRunning)
      expect(error.message).toBe("cannot status the agent: systemctl: command not found")
    }))
})
