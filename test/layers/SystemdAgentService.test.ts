import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { processStartTime } from "../../src/layers/internal/ProcessTable.js"
import * as SystemdAgentService from "../../src/layers/SystemdAgentService.js"
import { Shell, ShellError, type ShellShape } from "../../src/services/Shell.js"
import { cannedShell } from "../support/CannedShell.js"
import { SYSTEMCTL_IS_ENABLED, systemdCommands } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"
import { startTimeOf, writeBootTime, writeProcess } from "../support/FakeProc.js"

const serviceOver = (shell: ShellShape) => SystemdAgentService.make.pipe(Effect.provideService(Shell, shell))

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

describe("SystemdAgentService.isEnabled", () => {
  it.effect.each(["enabled", "enabled-runtime", "static", "alias", "indirect", "generated"])(
    "%s: enabled",
    (unitFileState) =>
      Effect.gen(function*() {
        const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", unitFileState })
        expect(yield* agent.isEnabled).toBe(true)
        const [entry] = yield* host.transcript
        expect(entry!.argv).toEqual(SYSTEMCTL_IS_ENABLED)
        expect(entry!.env).toEqual({ LC_ALL: "C" })
      })
  )

  it.effect.each(["disabled", "masked", "masked-runtime"])("%s: not enabled", (unitFileState) =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1", unitFileState })
      expect(yield* agent.isEnabled).toBe(false)
      expect((yield* host.transcript)[0]!.exit).toBe(1)
    }))

  it.effect("a unit systemd does not know (`Failed to get unit file state`) counts as enabled", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({})
      expect(yield* agent.isEnabled).toBe(true)
    }))

  it.effect("`not-found` on stdout (newer systemd) counts as enabled", () =>
    Effect.gen(function*() {
      const agent = yield* serviceOver(cannedShell({ exitCode: 4, stdout: "not-found\n", stderr: "" }))
      expect(yield* agent.isEnabled).toBe(true)
    }))

  it.effect("a SysV-only service: the state after systemd-sysv-install's chatter decides", () =>
    Effect.gen(function*() {
      const chatter = "Synchronizing state of driveclient.service with SysV service script with /lib/systemd/systemd-sysv-install.\n" +
        "Executing: /lib/systemd/systemd-sysv-install is-enabled driveclient\n"
      const disabled = yield* serviceOver(cannedShell({ exitCode: 1, stdout: `${chatter}disabled\n`, stderr: "" }))
      expect(yield* disabled.isEnabled).toBe(false)
      const enabled = yield* serviceOver(cannedShell({ exitCode: 0, stdout: `${chatter}enabled\n`, stderr: "" }))
      expect(yield* enabled.isEnabled).toBe(true)
    }))

  it.effect("an answer it should not give is a one-line AgentServiceError", () =>
    Effect.gen(function*() {
      const agent = yield* serviceOver(
        cannedShell({ exitCode: 1, stdout: "", stderr: "Failed to connect to bus: No such file or directory\n" })
      )
      const error = yield* Effect.flip(agent.isEnabled)
      expect(error).toMatchObject({ _tag: "AgentServiceError", operation: "is-enabled" })
      expect(error.message).toBe(
        "cannot is-enabled the agent: systemctl is-enabled driveclient: Failed to connect to bus: No such file or directory"
      )
    }))

  it.effect("systemctl missing is an AgentServiceError", () =>
    Effect.gen(function*() {
      const agent = yield* serviceOver(
        cannedShell(new ShellError({ argv: ["systemctl"], reason: "NotFound", detail: "command not found" }))
      )
      const error = yield* Effect.flip(agent.isEnabled)
      expect(error.message).toBe("cannot is-enabled the agent: systemctl: command not found")
    }))
})

const SYSTEMCTL_SHOW_MAIN_PID = ["systemctl", "show", "--property=MainPID", "driveclient"]

/** A process table in a temp directory in which the fake host's agent started `startTicks` after boot. */
const fakeProc = (startTicks: number) => {
  const procDir = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"))
  writeBootTime(procDir)
  writeProcess(procDir, FakeShell.AGENT_MAIN_PID, startTicks)
  return procDir
}

const startedAtOn = (init: FakeShell.FakeHostInit, procDir: string) =>
  Effect.gen(function*() {
    const host = yield* FakeShell.make(init)
    const agent = yield* SystemdAgentService.makeWith({ procDir }).pipe(Effect.provideService(Shell, host.shell))
    return { host, startedAt: yield* agent.startedAt }
  })

describe("SystemdAgentService.startedAt", () => {
  it.effect("the unit's main pid from systemctl show, its start from the process table", () =>
    Effect.gen(function*() {
      const { host, startedAt } = yield* startedAtOn({ installed: "1.1.0-1", running: true }, fakeProc(360_000))
      expect(startedAt).toEqual(Option.some(startTimeOf(360_000)))
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(SYSTEMCTL_SHOW_MAIN_PID)
      expect(entry!.env).toEqual({ LC_ALL: "C" })
    }))

  it.effect.each([
    ["a stopped agent", { installed: "1.1.0-1", running: false }],
    ["a unit systemd does not know", {}]
  ] as const)("none for %s (MainPID=0)", ([, init]) =>
    Effect.gen(function*() {
      expect((yield* startedAtOn(init, fakeProc(100))).startedAt).toEqual(Option.none())
    }))

  it.effect("none when the main pid is not in the process table", () =>
    Effect.gen(function*() {
      const procDir = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"))
      writeBootTime(procDir)
      expect((yield* startedAtOn({ installed: "1.1.0-1", running: true }, procDir)).startedAt).toEqual(Option.none())
    }))

  it.effect("on the real process table", () =>
    Effect.gen(function*() {
      const child = spawn("sleep", ["600"], { stdio: "ignore" })
      try {
        const agent = yield* serviceOver(cannedShell({ exitCode: 0, stdout: `MainPID=${child.pid}\n`, stderr: "" }))
        const startedAt = yield* agent.startedAt
        expect(startedAt).toEqual(Option.some(processStartTime(child.pid!)))
        expect(Option.getOrThrow(startedAt)).toBeGreaterThanOrEqual(processStartTime(process.pid)!)
      } finally {
        child.kill("SIGKILL")
      }
    }))

  it.effect("a failing systemctl show is an AgentServiceError with its last line", () =>
    Effect.gen(function*() {
      const agent = yield* serviceOver(
        cannedShell({ exitCode: 1, stdout: "", stderr: "Failed to connect to bus: No such file or directory\n" })
      )
      const error = yield* Effect.flip(agent.startedAt)
      expect(error.message).toBe(
        "cannot status the agent: systemctl show driveclient: Failed to connect to bus: No such file or directory"
      )
    }))
})

describe("SystemdAgentService.parseMainPid", () => {
  it.each([
    ["MainPID=1234\n", Option.some(1234)],
    ["MainPID=1234", Option.some(1234)],
    ["Id=driveclient.service\nMainPID=77\nActiveState=active\n", Option.some(77)],
    ["MainPID=0\n", Option.none()],
    ["", Option.none()],
    ["1234\n", Option.none()],
    ["MainPID=\n", Option.none()]
  ])("%j: %o", (stdout, expected) => {
    expect(SystemdAgentService.parseMainPid(stdout)).toEqual(expected)
  })
})
