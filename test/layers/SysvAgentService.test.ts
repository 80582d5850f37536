import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as SysvAgentService from "../../src/layers/SysvAgentService.js"
import { Shell } from "../../src/services/Shell.js"
import { initScriptCommands, serviceCommands } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"
import { BOOT_TIME, startTimeOf, writeBootTime, writeProcess } from "../support/FakeProc.js"
import { onHost, tempRoot, writeHostFile, writeHostProgram } from "../support/TempRoot.js"

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

/** rc links as update-rc.d and chkconfig make them: symlinks to the init script. */
const rcLinks = (links: ReadonlyArray<string>) => (root: string) =>
  Effect.promise(async () => {
    for (const link of links) {
      const file = onHost(root, link)
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.symlink("../init.d/driveclient", file)
    }
  })

const debianEnabled = [
  "/etc/rc0.d/K01driveclient",
  "/etc/rc1.d/K01driveclient",
  "/etc/rc2.d/S01driveclient",
  "/etc/rc3.d/S01driveclient",
  "/etc/rc4.d/S01driveclient",
  "/etc/rc5.d/S01driveclient",
  "/etc/rc6.d/K01driveclient"
]
const debianDisabled = debianEnabled.map((link) => link.replace("/S01", "/K01"))
const redhatDisabled = [0, 1, 2, 3, 4, 5, 6].map((level) => `/etc/rc.d/rc${level}.d/K85driveclient`)

describe("SysvAgentService.isEnabled", () => {
  const enabledWith = (links: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const { host, agent } = yield* withFakeHost({ installed: "1.1.0-1" }, rcLinks(links))
      const enabled = yield* agent.isEnabled
      expect(yield* host.commands).toEqual([])
      return enabled
    })

  it.scoped("no rc links at all (a chroot, no update-rc.d): enabled", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith([])).toBe(true)
    }))

  it.scoped("Debian, enabled: S links in 2-5", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith(debianEnabled)).toBe(true)
    }))

  it.scoped("Debian, `update-rc.d driveclient disable`: only K links in 2-5", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith(debianDisabled)).toBe(false)
    }))

  it.scoped("Red Hat, `chkconfig driveclient off`: K links under /etc/rc.d", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith(redhatDisabled)).toBe(false)
    }))

  it.scoped("Red Hat, on in runlevel 3 only: enabled", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith(redhatDisabled.map((link) => link.replace("rc3.d/K85", "rc3.d/S85")))).toBe(true)
    }))

  it.scoped("K links only outside 2-5, or other services' links, do not disable it", () =>
    Effect.gen(function*() {
      expect(yield* enabledWith(["/etc/rc0.d/K01driveclient", "/etc/rc6.d/K01driveclient"])).toBe(true)
      expect(yield* enabledWith(["/etc/rc2.d/K01driveclient-helper", "/etc/rc3.d/K01driveclientd"])).toBe(true)
    }))

  it.scoped("an unreadable rc directory is an AgentServiceError", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1" }, (root) => writeHostFile(root, "/etc/rc3.d", "not a directory"))
      const error = yield* Effect.flip(agent.isEnabled)
      expect(error).toMatchObject({ _tag: "AgentServiceError", operation: "is-enabled" })
      expect(error.message).toContain("/etc/rc3.d")
    }))

  it("enabledByLinks", () => {
    expect(SysvAgentService.enabledByLinks([])).toBe(true)
    expect(SysvAgentService.enabledByLinks(["K20driveclient"])).toBe(false)
    expect(SysvAgentService.enabledByLinks(["K20driveclient", "S20driveclient"])).toBe(true)
    expect(SysvAgentService.enabledByLinks(["K20driveclient.sh"])).toBe(true)
  })
})

/** An agent that started an hour after boot, by the process table under `root`. */
const agentProcess = (root: string, pid: number) =>
  Effect.sync(() => {
    writeBootTime(onHost(root, "/proc"))
    writeProcess(onHost(root, "/proc"), pid, 360_000)
  })

const AGENT_STARTED = startTimeOf(360_000)

/** A pidfile written when the agent started, or at `writtenAt`. */
const agentPidfile = (root: string, hostPath: string, content: string, writtenAt = AGENT_STARTED + 1_000) =>
  Effect.zipRight(
    writeHostFile(root, hostPath, content),
    Effect.promise(() => fs.utimes(onHost(root, hostPath), writtenAt / 1000, writtenAt / 1000))
  )

describe("SysvAgentService.startedAt", () => {
  it.scoped.each(["/var/run/driveclient.pid", "/run/driveclient.pid"])(
    "the pid in %s, its start from the process table under the root; no command run",
    (pidfile) =>
      Effect.gen(function*() {
        const { agent, host } = yield* withFakeHost({ installed: "1.1.0-1", running: true }, (root) =>
          Effect.zipRight(agentProcess(root, 3210), agentPidfile(root, pidfile, "3210\n")))
        expect(yield* agent.startedAt).toEqual(Option.some(AGENT_STARTED))
        expect(yield* host.commands).toEqual([])
      })
  )

  it.scoped("none without a pidfile", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1", running: true }, (root) => agentProcess(root, 3210))
      expect(yield* agent.startedAt).toEqual(Option.none())
    }))

  it.scoped("none when the pid in the pidfile is not in the process table", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1" }, (root) =>
        Effect.zipRight(agentProcess(root, 3210), agentPidfile(root, "/run/driveclient.pid", "3211\n")))
      expect(yield* agent.startedAt).toEqual(Option.none())
    }))

  it.scoped("none when the pid's process started after the pidfile was written: the pid was given out again", () =>
    Effect.gen(function*() {
      const { agent } = yield* withFakeHost({ installed: "1.1.0-1" }, (root) =>
        Effect.zipRight(agentProcess(root, 3210), agentPidfile(root, "/run/driveclient.pid", "3210\n", BOOT_TIME * 1000)))
      expect(yield* agent.startedAt).toEqual(Option.none())
    }))
})
