import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Option from "effect/Option"
import * as RpmPackageManager from "../../../../src/layers/packageManagers/rpm/RpmPackageManager.js"
import { Shell, type ShellShape } from "../../../../src/services/Shell.js"
import { cannedShell } from "../../../support/CannedShell.js"
import {
  DNF_REMOVE_DUPLICATES,
  dnfCommands,
  PACKAGE_CLEANUP_DUPES,
  RPM_QUERY,
  rpmInstallVersion,
  YUM_COMPLETE_TRANSACTION,
  yumCommands
} from "../../../support/ExpectedCommands.js"
import * as FakeShell from "../../../support/FakeShell.js"
import { remoteRepository } from "../../../support/RemoteRepository.js"
import {
  hostFileExists,
  listHostDirectory,
  makeHostDirectory,
  modeOf,
  readHostFile,
  tempRoot,
  writeHostFile,
  writeHostProgram
} from "../../../support/TempRoot.js"

const REPO =
  "[drivesrvr]\nname=Cloud Backup agent\nbaseurl=https://agentrepo.example.test/redhat/$basearch/\nenabled=1\ngpgcheck=1\ngpgkey=https://agentrepo.example.test/redhat/RPM-GPG-KEY-drivesrvr\n"

const withShell = (
  flavor: RpmPackageManager.RpmFlavor,
  shell: ShellShape,
  served: Readonly<Record<string, string>> = { "redhat/drivesrvr.repo": REPO }
) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    const packages = yield* RpmPackageManager.make({ root, flavor }).pipe(
      Effect.provideService(Shell, shell),
      Effect.provide(remoteRepository(served))
    )
    return { root, packages }
  })

const withFakeHost = (
  flavor: RpmPackageManager.RpmFlavor,
  init: FakeShell.FakeHostInit = {},
  served?: Readonly<Record<string, string>>
) =>
  Effect.gen(function*() {
    const host = yield* FakeShell.make(init)
    return { host, ...yield* withShell(flavor, host.shell, served) }
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
      expect(yield* packages.repositoryState).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/yum.repos.d/base.repo", "[baseos]\nbaseurl=https://mirror.example.test/\n")
      yield* writeHostFile(root, "/etc/yum.repos.d/drivesrvr.repo.rpmsave", REPO)
      yield* writeHostFile(root, "/etc/yum.repos.d/testing.repo", "# [drivesrvr]\n[drivesrvr-testing]\nbaseurl=x\n")
      expect(yield* packages.repositoryState).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/yum.repos.d/vendor.repo", REPO)
      expect(yield* packages.repositoryState).toEqual({ _tag: "Configured", file: "/etc/yum.repos.d/vendor.repo" })
    }))

  it.scoped("repositoryState: an unreadable repo directory is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      yield* writeHostFile(root, "/etc/yum.repos.d", "not a directory")
      expect((yield* Effect.flip(packages.repositoryState))._tag).toBe("PackageManagerError")
    }))

  it.scoped("configureRepository writes drivesrvr.repo atomically with mode 0644", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      const previous = process.umask(0o077)
      yield* Effect.ensuring(
        packages.configureRepository,
        Effect.sync(() => process.umask(previous))
      )
      expect(yield* readHostFile(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(REPO)
      expect(yield* modeOf(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(0o644)
      expect(yield* listHostDirectory(root, "/etc/yum.repos.d")).toEqual(["drivesrvr.repo"])
    }))

  it.scoped("configureRepository refuses a repository serving only an apt key, and a file without a [drivesrvr] section", () =>
    Effect.gen(function*() {
      const onlyKey = yield* withFakeHost(flavor, {}, { "debian/agentrepo.key": "k" })
      const wrongKind = yield* Effect.flip(onlyKey.packages.configureRepository)
      expect(wrongKind.message).toContain("redhat/drivesrvr.repo")
      expect(yield* hostFileExists(onlyKey.root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(false)
      const { root, packages } = yield* withFakeHost(flavor, {}, { "redhat/drivesrvr.repo": "<html><body>Not Found</body></html>" })
      const wrongFile = yield* Effect.flip(packages.configureRepository)
      expect(wrongFile.message).toContain("is not a repo file line")
      expect(yield* hostFileExists(root, "/etc/yum.repos.d/drivesrvr.repo")).toBe(false)
    }))

  it.scoped("configureRepository writes no second [drivesrvr] when another file defines it", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost(flavor)
      yield* writeHostFile(root, "/etc/yum.repos.d/vendor.repo", REPO)
      yield* packages.configureRepository
      expect(yield* listHostDirectory(root, "/etc/yum.repos.d")).toEqual(["vendor.repo"])
    }))

  it.scoped("refresh fetches the agent repository's metadata anew, and only that", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { offered: ["1.2.0-1.el9"] })
      yield* packages.refresh
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
      yield* packages.refresh
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

describe("RpmPackageManager (yum): exit statuses that are answers", () => {
  it.scoped("yum list: `No matching Packages to list` (exit 1) is none", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const packages = yield* RpmPackageManager.make({ root, flavor: "yum" }).pipe(
        Effect.provide(remoteRepository({ "redhat/drivesrvr.repo": REPO })),
        Effect.provideService(Shell, cannedShell({ exitCode: 1, stdout: "", stderr: "Error: No matching Packages to list\n" }))
      )
      expect(yield* packages.candidateVersion).toEqual(Option.none())
    }))

  it.scoped("yum list: another failure is a PackageManagerError", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const packages = yield* RpmPackageManager.make({ root, flavor: "yum" }).pipe(
        Effect.provide(remoteRepository({ "redhat/drivesrvr.repo": REPO })),
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

const SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
const THIRTY_MINUTES = Duration.toMillis(Duration.minutes(30))

/** A fake host with its own root, whose programs are looked up on SEARCH_PATH only. */
const withRootedFakeHost = (
  flavor: RpmPackageManager.RpmFlavor,
  init: FakeShell.FakeHostInit = {},
  prepare: (root: string) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    yield* prepare(root)
    const host = yield* FakeShell.make(init)
    const packages = yield* RpmPackageManager.make({ root, flavor, searchPath: SEARCH_PATH }).pipe(
      Effect.provide(remoteRepository({ "redhat/drivesrvr.repo": REPO })),
      Effect.provideService(Shell, host.shell)
    )
    return { root, host, packages }
  })

describe.each(["dnf", "yum"] as const)("RpmPackageManager.installVersion (%s)", (flavor) => {
  const offered = ["1.1.0-1.el9", "1.2.0-1.el9"]

  it.scoped("a newer agent is downgraded to exactly that version: argv, environment, timeout", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.2.0-1.el9", offered, refreshed: true })
      yield* packages.installVersion("1.1.0-1.el9")
      expect((yield* host.state).installed?.version).toBe("1.1.0-1.el9")
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([RPM_QUERY, rpmInstallVersion(flavor, "downgrade", "1.1.0-1.el9")])
      expect(transcript[1]!.env).toEqual({ LC_ALL: "C" })
      expect(transcript[1]!.timeoutMillis).toBe(THIRTY_MINUTES)
    }))

  it.scoped("an older agent is taken up to that version with install", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.1.0-1.el9", offered, refreshed: true })
      yield* packages.installVersion("1.2.0-1.el9")
      expect((yield* host.state).installed?.version).toBe("1.2.0-1.el9")
      expect((yield* host.commands).at(-1)).toEqual(rpmInstallVersion(flavor, "install", "1.2.0-1.el9"))
    }))

  it.scoped("a missing agent is installed at that version", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { offered, refreshed: true })
      yield* packages.installVersion("1.1.0-1.el9")
      expect((yield* host.state).installed?.version).toBe("1.1.0-1.el9")
      expect(yield* host.commands).toEqual([RPM_QUERY, rpmInstallVersion(flavor, "install", "1.1.0-1.el9")])
    }))

  it.scoped("the version already installed needs no transaction", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.1.0-1.el9", offered, refreshed: true })
      yield* packages.installVersion("1.1.0-1.el9")
      expect(yield* host.commands).toEqual([RPM_QUERY])
    }))

  it.scoped("1.10.0 is newer than 1.9.0: a downgrade, not an install", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, {
        installed: "1.10.0-1.el9",
        offered: ["1.9.0-1.el9", "1.10.0-1.el9"],
        refreshed: true
      })
      yield* packages.installVersion("1.9.0-1.el9")
      expect((yield* host.commands).at(-1)).toEqual(rpmInstallVersion(flavor, "downgrade", "1.9.0-1.el9"))
    }))

  it.scoped("a version the repository does not offer is the package manager's one-line error", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.2.0-1.el9", offered, refreshed: true })
      const error = yield* Effect.flip(packages.installVersion("1.0.0-1.el9"))
      expect(error.message).toBe(
        `${flavor} downgrade driveclient-1.0.0-1.el9 failed: ${
          flavor === "dnf" ? "Error: No packages marked for downgrade." : "Error: Nothing to do"
        }`
      )
      expect((yield* host.state).installed?.version).toBe("1.2.0-1.el9")
    }))

  it.scoped("a failed rollback transaction is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost(flavor, {
        installed: "1.2.0-1.el9",
        offered,
        refreshed: true,
        failures: { rollback: "Error: Transaction test error:" }
      })
      const error = yield* Effect.flip(packages.installVersion("1.1.0-1.el9"))
      expect(error).toMatchObject({ _tag: "PackageManagerError", detail: "Error: Transaction test error:" })
    }))

  it.scoped.each(["1.1.0", "", "1.1.0-1.el9 --nogpgcheck", "-1.el9"])("%j is not a version-release: refused, nothing run", (version) =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost(flavor, { installed: "1.2.0-1.el9", offered, refreshed: true })
      const error = yield* Effect.flip(packages.installVersion(version))
      expect(error.message).toContain("is not a package version")
      expect(yield* host.commands).toEqual([])
    }))
})

describe.each(["dnf", "yum"] as const)("RpmPackageManager.isHeld (%s)", (flavor) => {
  const lockList = flavor === "dnf" ? "/etc/dnf/plugins/versionlock.list" : "/etc/yum/pluginconf.d/versionlock.list"
  const lockConf = flavor === "dnf" ? "/etc/dnf/plugins/versionlock.conf" : "/etc/yum/pluginconf.d/versionlock.conf"
  const mainConf = flavor === "dnf" ? "/etc/dnf/dnf.conf" : "/etc/yum.conf"
  const otherLockList = flavor === "dnf" ? "/etc/yum/pluginconf.d/versionlock.list" : "/etc/dnf/plugins/versionlock.list"

  const heldWith = (files: Record<string, string>) =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withRootedFakeHost(flavor, { installed: "1.1.0-1.el9" })
      for (const [file, content] of Object.entries(files)) yield* writeHostFile(root, file, content)
      const held = yield* packages.isHeld
      // Read from the files: no plugin is run.
      expect(yield* host.commands).toEqual([])
      return held
    })

  it.scoped("no files at all: not held", () =>
    Effect.gen(function*() {
      expect(yield* heldWith({})).toBe(false)
    }))

  it.scoped.each([
    "driveclient-0:1.1.0-1.el9.*",
    "driveclient-1.1.0-1.el9",
    "0:driveclient-1.1.0-1.el9.*",
    "!driveclient-0:1.2.0-1.el9.*",
    "driveclient"
  ])("a versionlock entry %s holds it", (entry) =>
    Effect.gen(function*() {
      expect(yield* heldWith({ [lockList]: `# Added locks on Mon Jan  1 00:00:00 2024\nbash-0:5.1.8-6.el9.*\n${entry}\n` }))
        .toBe(true)
    }))

  it.scoped("other packages' entries, comments, and the other tool's list do not", () =>
    Effect.gen(function*() {
      expect(
        yield* heldWith({
          [lockList]: "# driveclient-0:1.1.0-1.el9.*\ndriveclient-tools-0:1.0-1.el9.*\nbash-0:5.1.8-6.el9.*\n\n",
          [otherLockList]: "driveclient-0:1.1.0-1.el9.*\n"
        })
      ).toBe(false)
    }))

  it.scoped("the list named by locklist= in the plugin's configuration is the one read", () =>
    Effect.gen(function*() {
      expect(
        yield* heldWith({
          [lockConf]: "[main]\nenabled = 1\nlocklist = /etc/locks/agent.list\n",
          "/etc/locks/agent.list": "driveclient-0:1.1.0-1.el9.*\n"
        })
      ).toBe(true)
    }))

  it.scoped.each([
    "[main]\ngpgcheck=1\nexclude=kernel* driveclient*\n",
    "[main]\nexcludepkgs=kernel*,driveclient\n",
    "[main]\nexclude=kernel*\n  driveclient*\n",
    "[main]\nexclude = drive*\n"
  ])("[main] excluding it holds it: %j", (conf) =>
    Effect.gen(function*() {
      expect(yield* heldWith({ [mainConf]: conf })).toBe(true)
    }))

  it.scoped("an exclude of other packages, or in another section, does not", () =>
    Effect.gen(function*() {
      expect(
        yield* heldWith({ [mainConf]: "[main]\nexclude=kernel* driveclient-tools\n# exclude=driveclient\n[other]\nexclude=driveclient*\n" })
      ).toBe(false)
    }))

  it.scoped("an unreadable list is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withRootedFakeHost(flavor)
      yield* makeHostDirectory(root, lockList)
      const error = yield* Effect.flip(packages.isHeld)
      expect(error._tag).toBe("PackageManagerError")
      expect(error.message).toContain(`read the ${flavor} locks failed`)
      expect(error.message).toContain("versionlock.list")
    }))
})

describe("RpmPackageManager.isHeld (dnf5)", () => {
  it.scoped("a [[packages]] entry named driveclient in /etc/dnf/versionlock.toml holds it", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withRootedFakeHost("dnf")
      yield* writeHostFile(
        root,
        "/etc/dnf/versionlock.toml",
        'version = "1.0"\n[[packages]]\nname = "bash"\n[[packages]]\nname = "driveclient"\n[[packages.conditions]]\nkey = "evr"\ncomparator = "="\nvalue = "1.1.0-1.fc41"\n'
      )
      expect(yield* packages.isHeld).toBe(true)
    }))
})

describe.each(["dnf", "yum"] as const)("RpmPackageManager.repair (%s)", (flavor) => {
  const cleanupOnPath = (root: string) => writeHostProgram(root, "/usr/bin/package-cleanup")

  it.scoped("one installed version, or none: nothing to repair", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost(flavor, { installed: "1.1.0-1.el9" }, cleanupOnPath)
      expect(yield* packages.repair).toEqual(Option.none())
      expect(yield* host.commands).toEqual([RPM_QUERY])
      const missing = yield* withRootedFakeHost(flavor, {}, cleanupOnPath)
      expect(yield* missing.packages.repair).toEqual(Option.none())
    }))

  it.scoped("two installed versions (an interrupted upgrade): the older one is removed", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost(
        flavor,
        { installed: "1.1.0-1.el9", duplicate: "1.2.0-1.el9" },
        cleanupOnPath
      )
      expect(yield* packages.installedVersion).toEqual(Option.some("1.2.0-1.el9"))
      const remover = flavor === "dnf" ? DNF_REMOVE_DUPLICATES : PACKAGE_CLEANUP_DUPES
      expect(yield* packages.repair).toEqual(Option.some(remover.join(" ")))
      const state = yield* host.state
      expect(state.installed?.version).toBe("1.2.0-1.el9")
      expect(state.duplicate).toBeUndefined()
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([RPM_QUERY, RPM_QUERY, remover, RPM_QUERY])
      expect(transcript[2]!.env).toEqual({ LC_ALL: "C" })
      expect(transcript[2]!.timeoutMillis).toBe(THIRTY_MINUTES)
    }))

  it.scoped("a failing removal is a one-line PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withRootedFakeHost(
        flavor,
        { installed: "1.1.0-1.el9", duplicate: "1.2.0-1.el9", failures: { repair: "Error: Transaction check error:" } },
        cleanupOnPath
      )
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toBe(
        `${(flavor === "dnf" ? DNF_REMOVE_DUPLICATES : PACKAGE_CLEANUP_DUPES).join(" ")} failed: Error: Transaction check error:`
      )
    }))

  it.scoped("both versions still there after the removal: an error saying so", () =>
    Effect.gen(function*() {
      const fake = yield* FakeShell.make({ installed: "1.1.0-1.el9", duplicate: "1.2.0-1.el9" })
      const root = yield* tempRoot
      yield* cleanupOnPath(root)
      const packages = yield* RpmPackageManager.make({ root, flavor, searchPath: SEARCH_PATH }).pipe(
        Effect.provide(remoteRepository({ "redhat/drivesrvr.repo": REPO })),
        Effect.provideService(Shell, {
          run: (argv, options) =>
            argv[0] === "rpm" ? fake.shell.run(argv, options) : Effect.succeed({ exitCode: 0, stdout: "", stderr: "" })
        })
      )
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toContain("2 versions of driveclient are still installed (1.1.0-1.el9, 1.2.0-1.el9)")
    }))
})

describe("RpmPackageManager.repair (yum tools)", () => {
  const duplicated = { installed: "1.1.0-1.el7", duplicate: "1.2.0-1.el7" }

  it.scoped("without package-cleanup, yum-complete-transaction finishes the transaction", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost(
        "yum",
        duplicated,
        (root) => writeHostProgram(root, "/usr/sbin/yum-complete-transaction")
      )
      expect(yield* packages.repair).toEqual(Option.some(YUM_COMPLETE_TRANSACTION.join(" ")))
      expect(yield* host.commands).toEqual([RPM_QUERY, YUM_COMPLETE_TRANSACTION, RPM_QUERY])
      expect((yield* host.state).duplicate).toBeUndefined()
    }))

  it.scoped("neither tool on PATH: an error naming both, and nothing run", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost("yum", duplicated, (root) =>
        Effect.zipRight(
          // Not executable, and outside PATH: neither counts.
          writeHostFile(root, "/usr/bin/package-cleanup", "#!/bin/sh\n", 0o644),
          writeHostProgram(root, "/opt/yum-utils/yum-complete-transaction")
        ))
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toBe(
        "repair failed: 2 versions of driveclient are installed (1.1.0-1.el7, 1.2.0-1.el7), and neither " +
          `package-cleanup (yum-utils) nor yum-complete-transaction is on PATH (${SEARCH_PATH})`
      )
      expect(yield* host.commands).toEqual([RPM_QUERY])
    }))

  it.scoped("dnf never looks for yum's tools", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost("dnf", duplicated)
      expect(yield* packages.repair).toEqual(Option.some(DNF_REMOVE_DUPLICATES.join(" ")))
      expect((yield* host.commands)[1]).toEqual(DNF_REMOVE_DUPLICATES)
    }))
})

describe.each(["dnf", "yum"] as const)("RpmPackageManager transactions wait for another package manager (%s)", (flavor) => {
  const offered = ["1.1.0-1.el9"]
  /** dnf's lock, held by a live process: this test's own. */
  const locked = (root: string) => writeHostFile(root, "/var/lib/dnf/rpmdb_lock.pid", `${process.pid}\n`)

  it.scoped("an install waits while the rpm database is held, and runs once it is free", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withRootedFakeHost(flavor, { offered, refreshed: true }, locked)
      const fiber = yield* Effect.fork(packages.install)
      yield* TestClock.adjust(Duration.seconds(10))
      expect(fiber.unsafePoll(), "still waiting").toBeNull()
      expect((yield* host.commands).some((argv) => argv[0] === flavor), "no transaction yet").toBe(false)
      yield* Effect.promise(() => fs.promises.rm(path.join(root, "var/lib/dnf/rpmdb_lock.pid")))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(fiber)
      expect((yield* host.state).installed?.version).toBe("1.1.0-1.el9")
    }))

  it.scoped("the wait is interruptible inside an uninterruptible transaction: a stop ends it, and nothing runs", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withRootedFakeHost(flavor, { offered, refreshed: true }, locked)
      const fiber = yield* Effect.fork(Effect.uninterruptible(packages.install))
      yield* TestClock.adjust(Duration.seconds(5))
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect((yield* host.commands).some((argv) => argv[0] === flavor), "no transaction ran").toBe(false)
      expect((yield* host.state).installed).toBeUndefined()
    }))
})
