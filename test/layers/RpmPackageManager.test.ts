import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RpmPackageManager from "../../src/layers/RpmPackageManager.js"
import { Shell, type ShellService } from "../../src/services/Shell.js"
import { cannedShell } from "../support/CannedShell.js"
import { dnfCommands, RPM_QUERY, yumCommands } from "../support/ExpectedCommands.js"
import * as FakeShell from "../support/FakeShell.js"
import { hostFileExists, listHostDirectory, modeOf, readHostFile, tempRoot, writeHostFile } from "../support/TempRoot.js"

const BASE = "https://agentrepo.example.test"
const REPO = "[drivesrvr]\nname=Cloud Backup agent\nbaseurl=https://agentrepo.example.test/redhat/$basearch/\nenabled=1\n"

const withShell = (flavor: RpmPackageManager.RpmFlavor, shell: ShellService) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    const packages = yield* RpmPackageManager.make({ root, flavor }).pipe(Effect.provideService(Shell, shell))
    return { root, packages }
  })

const withFakeHost = (flavor: RpmPackageManager.RpmFlavor, init: FakeShell.FakeHostInit = {}) =>
  Effect.gen(function*() {
    const host = yield* FakeShell.make(init)
    return { host, ...yield* withShell(flavor, host.shell) }
  })

describe.each(["dnf", "yum"] as const)("RpmPackageManager (%s)", (flavor) => {
  const expected = flavor === "dnf" ? dnfCommands : yumCommands

  it.scoped("installedVersion: rpm -q with an argument vector and LC_ALL=C", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.1.0-1.el9" })
      expect(yield* packages.installedVersion).toEqual(Option.some("1.1.0-1.el9"))
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(RPM_QUERY)
      expect(entry!.env).toEqual({ LC_ALL: "C" })
    }))

  it.scoped("installedVersion: `package driveclient is not installed` is none", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost(flavor, {})
      expect(yield* packages.installedVersion).toEqual(Option.none())
    }))

  it.scoped("installedVersion: another rpm failure is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withShell(flavor, cannedShell({
        exitCode: 1,
        stdout: "",
        stderr: "error: rpmdb: BDB0113 Thread/process 1234 failed\nerror: cannot open Packages database in /var/lib/rpm\n"
      }))
      const error = yield* Effect.flip(packages.installedVersion)
      expect(error.message).toBe("rpm -q failed: error: cannot open Packages database in /var/lib/rpm")
    }))

  it.scoped("repositoryState: any .repo file defining [drivesrvr]", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      expect(yield* packages.repositoryState(BASE)).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/yum.repos.d/base.repo", "[baseos]\nbaseurl=https://mirror.example.test/\n")
      yield* writeHostFile(root, "/etc/yum.repos.d/drivesrvr.repo.rpmsave", REPO)
      yield* writeHostFile(root, "/etc/yum.repos.d/testing.repo", "# [drivesrvr]\n[drivesrvr-testing]\nbaseurl=x\n")
      expect(yield* packages.repositoryState(BASE)).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/yum.repos.d/vendor.repo", REPO)
      expect(yield* packages.repositoryState(BASE)).toEqual({ _tag: "Configured", file: "/etc/yum.repos.d/vendor.repo" })
    }))

  it.scoped("repositoryState: an unreadable repo directory is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      yield* writeHostFile(root, "/etc/yum.repos.d", "not a directory")
      expect((yield* Effect.flip(packages.repositoryState(BASE)))._tag).toBe("PackageManagerError")
    }))

  it.scoped("configureRepository writes drivesrvr.repo atomically with mode 0644", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      const previous = process.umask(0o077)
      yield* Effect.ensuring(
        packages.configureRepository(BASE, { _tag: "YumRepoFile", content: REPO }),
        Effect.sync(() => process.umask(previous))
      )
      expect(yield* readHostFile(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(REPO)
      expect(yield* modeOf(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(0o644)
      expect(yield* listHostDirectory(root, "/etc/yum.repos.d")).toEqual(["drivesrvr.repo"])
    }))

  it.scoped("configureRepository refuses an apt key, and a file without a [drivesrvr] section", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      const wrongKind = yield* Effect.flip(packages.configureRepository(BASE, { _tag: "AptKey", key: "k" }))
      expect(wrongKind._tag).toBe("PackageManagerError")
      const wrongFile = yield* Effect.flip(
        packages.configureRepository(BASE, { _tag: "YumRepoFile", content: "<html><body>Not Found</body></html>" })
      )
      expect(wrongFile._tag).toBe("PackageManagerError")
      expect(yield* hostFileExists(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(false)
    }))

  it.scoped("configureRepository writes no second [drivesrvr] when another file defines it", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      yield* writeHostFile(root, "/etc/yum.repos.d/vendor.repo", REPO)
      yield* packages.configureRepository(BASE, { _tag: "YumRepoFile", content: REPO })
      expect(yield* listHostDirectory(root, "/etc/yum.repos.d")).toEqual(["vendor.repo"])
    }))

  it.scoped("refresh fetches the agent repository's metadata anew, and only that", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { offered: ["1.2.0-1.el9"] })
      yield* packages.refresh(BASE)
      expect(yield* host.commands).toEqual(expected.refresh)
      expect((yield* host.state).refreshed).toBe(true)
      expect((yield* host.transcript).every((entry) => entry.env["LC_ALL"] === "C")).toBe(true)
    }))

  it.scoped("candidateVersion: the newest offered version after a refresh, none before", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, {
        installed: "1.1.0-1.el9",
        offered: ["1.1.0-1.el9", "1.10.0-1.el9", "1.2.0-1.el9"]
      })
      expect(yield* packages.candidateVersion).toEqual(Option.none())
      yield* packages.refresh(BASE)
      expect(yield* packages.candidateVersion).toEqual(Option.some("1.10.0-1.el9"))
      expect((yield* host.commands).at(-1)).toEqual(expected.candidate)
    }))

  it.scoped("download of an installed agent upgrades in download-only mode; install reuses the cache (no --refresh)", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, {
        installed: "1.1.0-1.el9",
        offered: ["1.2.0-1.el9"],
        refreshed: true
      })
      yield* packages.download
      expect((yield* host.state).downloaded).toBe("1.2.0-1.el9")
      yield* packages.install
      expect((yield* host.state).installed?.version).toBe("1.2.0-1.el9")
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([...expected.download(true), ...expected.install(true)])
      expect(transcript.some((entry) => entry.argv.includes("--refresh") && entry.argv.includes("upgrade"))).toBe(false)
      expect(transcript[1]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(10)))
      expect(transcript[3]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(30)))
    }))

  it.scoped("a missing agent is installed, not upgraded", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { offered: ["1.2.0-1.el9"], refreshed: true })
      yield* packages.install
      expect(yield* host.commands).toEqual(expected.install(false))
      expect((yield* host.state).installed?.version).toBe("1.2.0-1.el9")
    }))

  it.scoped("a failed transaction is one line: the package manager's own error", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost(flavor, {
        installed: "1.1.0-1.el9",
        offered: ["1.2.0-1.el9"],
        refreshed: true,
        failures: { install: "Error: Transaction test error:" }
      })
      const error = yield* Effect.flip(packages.install)
      expect(error.message).toBe(`${flavor} upgrade failed: Error: Transaction test error:`)
    }))

  it.scoped("a failed download is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost(flavor, {
        installed: "1.1.0-1.el9",
        offered: ["1.2.0-1.el9"],
        refreshed: true,
        failures: { download: "Error: Error downloading packages:" }
      })
      const error = yield* Effect.flip(packages.download)
      expect(error.detail).toBe("Error: Error downloading packages:")
    }))
})

describe("RpmPackageManager output parsing", () => {
  it("dnf repoquery: one version a line, a literal \\n, or an epoch", () => {
    expect(RpmPackageManager.parseNewestVersion("1.2.0-1.el9\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(RpmPackageManager.parseNewestVersion("1.2.0-1.el9\\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(RpmPackageManager.parseNewestVersion("1.2.0-1.el9\n\n1.10.0-1.el9\n")).toEqual(Option.some("1.10.0-1.el9"))
    expect(RpmPackageManager.parseNewestVersion("1:1.2.0-1.el9\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(RpmPackageManager.parseNewestVersion("")).toEqual(Option.none())
  })

  it("yum list: the version column, headers and repository names ignored", () => {
    const output = [
      "Loaded plugins: fastestmirror",
      "Available Packages",
      "driveclient.x86_64                  1.1.0-1.el7                   drivesrvr",
      "driveclient.x86_64                  1.2.0-1.el7                   drivesrvr",
      ""
    ].join("\n")
    expect(RpmPackageManager.parseNewestVersion(output)).toEqual(Option.some("1.2.0-1.el7"))
    // yum wraps a long name onto its own line.
    expect(RpmPackageManager.parseNewestVersion("Available Packages\ndriveclient.x86_64\n      1.3.0-2.el7   drivesrvr\n"))
      .toEqual(Option.some("1.3.0-2.el7"))
  })

  it.scoped("yum list: `No matching Packages to list` (exit 1) is none", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const packages = yield* RpmPackageManager.make({ root, flavor: "yum" }).pipe(
        Effect.provideService(Shell, cannedShell({ exitCode: 1, stdout: "", stderr: "Error: No matching Packages to list\n" }))
      )
      expect(yield* packages.candidateVersion).toEqual(Option.none())
    }))

  it.scoped("yum list: another failure is a PackageManagerError", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const packages = yield* RpmPackageManager.make({ root, flavor: "yum" }).pipe(
        Effect.provideService(
          Shell,
          cannedShell({ exitCode: 1, stdout: "", stderr: "One of the configured repositories failed (drivesrvr)\n" })
        )
      )
      expect((yield* Effect.flip(packages.candidateVersion))._tag).toBe("PackageManagerError")
    }))

  it.scoped("yum's download-only run ends with exit status 1 and a message: still a success", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost("yum", { installed: "1.1.0-1.el7", offered: ["1.2.0-1.el7"], refreshed: true })
      yield* packages.download
      expect((yield* host.transcript).at(-1)!.exit).toBe(1)
      expect((yield* host.state).downloaded).toBe("1.2.0-1.el7")
    }))
})
