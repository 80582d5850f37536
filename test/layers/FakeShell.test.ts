/** The fake host must not answer what the real tools would not: a test over it cannot pass by accident. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import {
  APT_FIX_BROKEN,
  APT_INSTALL,
  APT_UPDATE_ALL,
  type Argv,
  aptDownloadVersion,
  aptInstallExactly,
  aptInstallVersion,
  aptReinstallVersion,
  DNF_MAKECACHE_ALL,
  DNF_REMOVE_DUPLICATES,
  DPKG_AUDIT,
  DPKG_CONFIGURE_ALL,
  dpkgDebBuild,
  HOLE,
  initScriptCommands,
  PACKAGE_CLEANUP_DUPES,
  packageCommands,
  RPM_QUERY,
  rpmDownloadVersion,
  rpmInstallFile,
  rpmInstallVersion,
  serviceCommands,
  SYSTEMCTL_IS_ENABLED,
  SYSTEMCTL_MAIN_PID,
  systemdCommands,
  YUM_COMPLETE_TRANSACTION,
  zypperDownloadVersion,
  zypperInstallFile,
  zypperInstallVersion,
  zypperRemoveVersion
} from "../support/ExpectedCommands.js"
import { aptTable } from "../support/fakeHost/apt.js"
import { lookUp, match } from "../support/fakeHost/CommandTable.js"
import { rpmTable } from "../support/fakeHost/rpm.js"
import { servicesTable } from "../support/fakeHost/services.js"
import { zypperTable } from "../support/fakeHost/zypper.js"
import * as FakeShell from "../support/FakeShell.js"

/** Every command line the live layers run, as ExpectedCommands writes them. */
const everyExpectedCommand: ReadonlyArray<Argv> = [
  ...(["apt", "dnf", "yum", "zypper"] as const).flatMap((flavor) => {
    const expected = packageCommands(flavor)
    return [
      expected.installedVersion,
      ...expected.configureRepository,
      ...expected.refresh,
      expected.candidate,
      ...[true, false].flatMap((installed) => [...expected.download(installed), ...expected.install(installed)]),
      ...expected.isHeld,
      ...expected.repairCheck
    ]
  }),
  ...[systemdCommands, serviceCommands, initScriptCommands].flatMap((expected) => [
    expected.status,
    expected.stop,
    expected.start,
    ...expected.isEnabled
  ]),
  SYSTEMCTL_MAIN_PID,
  APT_UPDATE_ALL,
  aptInstallVersion("1.1.0-1"),
  aptReinstallVersion("1.1.0-1"),
  aptDownloadVersion("1.1.0-1"),
  aptInstallExactly("/var/lib/cloudbackup-updater/packages/driveclient_1.1.0-1_amd64.deb"),
  APT_FIX_BROKEN,
  DPKG_CONFIGURE_ALL,
  dpkgDebBuild("/var/lib/cloudbackup-updater/packages/.rebuild-1", "/var/lib/cloudbackup-updater/packages/x.deb.partial"),
  DNF_MAKECACHE_ALL,
  ...(["dnf", "yum"] as const).flatMap((tool) => [
    rpmInstallVersion(tool, "install", "1.1.0-1.el9"),
    rpmInstallVersion(tool, "downgrade", "1.1.0-1.el9"),
    rpmInstallFile(tool, "downgrade", "/var/lib/cloudbackup-updater/packages/driveclient-1.1.0-1.el9.x86_64.rpm"),
    rpmDownloadVersion(tool, "/var/lib/cloudbackup-updater/packages/.download", "1.1.0-1.el9")
  ]),
  DNF_REMOVE_DUPLICATES,
  PACKAGE_CLEANUP_DUPES,
  YUM_COMPLETE_TRANSACTION,
  zypperInstallVersion("1.1.0-1.el9"),
  zypperInstallFile("/var/lib/cloudbackup-updater/packages/driveclient-1.1.0-1.el9.x86_64.rpm"),
  zypperDownloadVersion("1.1.0-1.el9"),
  zypperRemoveVersion("1.1.0-1.el9")
]

describe("FakeShell", () => {
  it("knows every command line in ExpectedCommands", () => {
    for (const argv of everyExpectedCommand) {
      expect({ argv, known: "entry" in lookUp([aptTable, rpmTable, zypperTable, servicesTable], argv) }).toEqual({ argv, known: true })
    }
  })

  it("a hole in a pattern stands for one whole, non-empty value around its fixed text", () => {
    const pattern: Argv = ["apt-get", "install", `driveclient=${HOLE}`]
    expect(match(pattern, ["apt-get", "install", "driveclient=1.1.0-1"])).toEqual(["1.1.0-1"])
    expect(match(pattern, ["apt-get", "install", "driveclient="])).toBeUndefined()
    expect(match(pattern, ["apt-get", "install", "driveclient-1.1.0-1"])).toBeUndefined()
    expect(match(pattern, ["apt-get", "install", "driveclient=1.1.0-1", "-y"])).toBeUndefined()
  })

  it.effect("its commands change the host model the simulated services use", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.1.0-1", offered: ["1.2.0-1"], refreshed: true })
      yield* host.shell.run(APT_INSTALL)
      expect((yield* host.model.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
      expect((yield* host.model.events).map((event) => event.what)).toContain("driveclient 1.2.0-1 installed")
    }))

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

  it.effect("apt refuses a downgrade without --allow-downgrades, and a held agent's upgrade", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.2.0-1", offered: ["1.1.0-1", "1.3.0-1"], refreshed: true })
      const withoutAllow = aptInstallVersion("1.1.0-1").filter((arg) => arg !== "--allow-downgrades") as [string, ...Array<string>]
      expect((yield* host.shell.run(withoutAllow)).exitCode).toBe(100)
      yield* host.update((state) => ({ ...state, held: true }))
      const held = yield* host.shell.run(APT_INSTALL)
      expect(held.exitCode).toBe(100)
      expect(held.stderr).toContain("Held packages were changed")
      expect((yield* host.shell.run(aptInstallVersion("1.1.0-1"))).exitCode).toBe(100)
      expect((yield* host.state).installed?.version).toBe("1.2.0-1")
    }))

  it.effect("dpkg --audit reports an unfinished agent and exits 1; a finished one, nothing", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.2.0-1", dpkgState: "half-configured" })
      const unfinished = yield* host.shell.run(DPKG_AUDIT)
      expect(unfinished.exitCode).toBe(1)
      expect(unfinished.stdout).toContain(" driveclient ")
      yield* host.update((state) => ({ ...state, installed: { version: "1.2.0-1", dpkgState: "installed" } }))
      expect(yield* host.shell.run(DPKG_AUDIT)).toEqual({ exitCode: 0, stdout: "", stderr: "" })
    }))

  it.effect("rpm frontends: downgrade only down and only to an offered version; no install of an older one", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.2.0-1.el9", offered: ["1.1.0-1.el9", "1.2.0-1.el9"], refreshed: true })
      expect((yield* host.shell.run(rpmInstallVersion("dnf", "downgrade", "1.0.0-1.el9"))).exitCode).toBe(1)
      expect((yield* host.shell.run(rpmInstallVersion("dnf", "downgrade", "1.2.0-1.el9"))).exitCode).toBe(1)
      expect((yield* host.shell.run(rpmInstallVersion("yum", "install", "1.1.0-1.el9"))).exitCode).toBe(1)
      expect((yield* host.state).installed?.version).toBe("1.2.0-1.el9")
      expect((yield* host.shell.run(rpmInstallVersion("yum", "downgrade", "1.1.0-1.el9"))).exitCode).toBe(0)
      expect((yield* host.state).installed?.version).toBe("1.1.0-1.el9")
    }))

  it.effect("duplicates: rpm -q lists both; only dnf knows remove --duplicates", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.1.0-1.el9", duplicate: "1.2.0-1.el9" })
      expect((yield* host.shell.run(RPM_QUERY)).stdout).toBe("1.1.0-1.el9\n1.2.0-1.el9\n")
      expect((yield* host.shell.run(["yum", "-y", "remove", "--duplicates", "driveclient"])).exitCode).not.toBe(0)
      expect((yield* host.shell.run(["dnf", "-y", "remove", "driveclient"])).exitCode).not.toBe(0)
      expect((yield* host.state).duplicate).toBe("1.2.0-1.el9")
      expect((yield* host.shell.run(DNF_REMOVE_DUPLICATES)).exitCode).toBe(0)
      expect((yield* host.shell.run(RPM_QUERY)).stdout).toBe("1.2.0-1.el9\n")
    }))

  it.effect("systemctl is-enabled: 0 for enabled states, 1 for disabled ones and unknown units", () =>
    Effect.gen(function*() {
      const host = yield* FakeShell.make({ installed: "1.1.0-1", unitFileState: "static" })
      expect(yield* host.shell.run(SYSTEMCTL_IS_ENABLED)).toEqual({ exitCode: 0, stdout: "static\n", stderr: "" })
      yield* host.update((state) => ({ ...state, unitFileState: "masked" }))
      expect(yield* host.shell.run(SYSTEMCTL_IS_ENABLED)).toEqual({ exitCode: 1, stdout: "masked\n", stderr: "" })
      yield* host.update((state) => ({ ...state, installed: undefined }))
      expect((yield* host.shell.run(SYSTEMCTL_IS_ENABLED)).stderr).toContain("Failed to get unit file state")
    }))
})
