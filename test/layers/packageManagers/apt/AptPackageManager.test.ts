import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as AptPackageManager from "../../../../src/layers/packageManagers/apt/AptPackageManager.js"
import { type CommandResult, Shell, ShellError, type ShellShape } from "../../../../src/services/Shell.js"
import { cannedShell } from "../../../support/CannedShell.js"
import {
  APT_DOWNLOAD,
  APT_FIX_BROKEN,
  APT_INSTALL,
  APT_SHOWHOLD,
  APT_SIMULATE,
  APT_CONFIG_DUMP,
  aptInstallVersion,
  aptReinstallVersion,
  aptUpdate,
  DPKG_AUDIT,
  DPKG_CONFIGURE_ALL,
  DPKG_QUERY,
  dpkgInstallArchive
} from "../../../support/ExpectedCommands.js"
import * as FakeShell from "../../../support/FakeShell.js"
import {
  fixtureKey,
  REPOSITORY_KEY,
  REPOSITORY_KEY_FINGERPRINT,
  ROTATED_KEY,
  ROTATED_KEY_FINGERPRINT
} from "../../../support/OpenPgpKeys.js"
import { remoteRepository } from "../../../support/RemoteRepository.js"
import {
  hostFileExists,
  listHostDirectory,
  makeHostDirectory,
  modeOf,
  readHostFile,
  tempRoot,
  writeHostFile
} from "../../../support/TempRoot.js"

const KEY = REPOSITORY_KEY
const APT_ENV = {
  DEBIAN_FRONTEND: "noninteractive",
  LC_ALL: "C",
  APT_LISTCHANGES_FRONTEND: "none",
  NEEDRESTART_SUSPEND: "1"
}

const withShell = (shell: ShellShape, served: Readonly<Record<string, string>> = { "debian/agentrepo.key": KEY }) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    const packages = yield* AptPackageManager.make({ root }).pipe(
      Effect.provideService(Shell, shell),
      Effect.provide(remoteRepository(served))
    )
    return { root, packages }
  })

const withFakeHost = (init: FakeShell.FakeHostInit = {}, served?: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const host = yield* FakeShell.make(init)
    return { host, ...yield* withShell(host.shell, served) }
  })

describe("AptPackageManager.installedVersion", () => {
  it.scoped("runs dpkg-query with an argument vector and LC_ALL=C", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.1.0-1" })
      expect(yield* packages.installedVersion).toEqual(Option.some("1.1.0-1"))
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(DPKG_QUERY)
      expect(entry!.env["LC_ALL"]).toBe("C")
    }))

  it.scoped("a package dpkg has never heard of (exit 1) is not installed", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({})
      expect(yield* packages.installedVersion).toEqual(Option.none())
    }))

  it.scoped.each(["config-files", "not-installed"] as const)("dpkg state %s is not installed", (dpkgState) =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({ installed: "1.1.0-1", dpkgState })
      expect(yield* packages.installedVersion).toEqual(Option.none())
    }))

  it.scoped.each(["half-installed", "unpacked", "half-configured"] as const)(
    "dpkg state %s counts as installed, to be repaired by upgrading",
    (dpkgState) =>
      Effect.gen(function*() {
        const { packages } = yield* withFakeHost({ installed: "1.1.0-1", dpkgState })
        expect(yield* packages.installedVersion).toEqual(Option.some("1.1.0-1"))
      })
  )

  it.scoped("another dpkg-query failure is a PackageManagerError with its last line", () =>
    Effect.gen(function*() {
      const { packages } = yield* withShell(cannedShell({
        exitCode: 2,
        stdout: "",
        stderr: "dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 7:\n newline in field name\n"
      }))
      const error = yield* Effect.flip(packages.installedVersion)
      expect(error._tag).toBe("PackageManagerError")
      expect(error.message).toBe("dpkg-query failed: newline in field name")
    }))
})

describe("AptPackageManager.repositoryState", () => {
  const stateOf = (files: Record<string, string>) =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      for (const [file, content] of Object.entries(files)) yield* writeHostFile(root, file, content)
      return yield* packages.repositoryState
    })

  it.scoped("no sources at all: missing", () =>
    Effect.gen(function*() {
      expect(yield* stateOf({})).toEqual({ _tag: "Missing" })
    }))

  it.scoped("a one-line entry with signed-by in a .list file", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/other.list": "deb http://deb.debian.org/debian bookworm main\n",
          "/etc/apt/sources.list.d/driveclient.list":
            "deb [arch=amd64 signed-by=/etc/apt/keyrings/driveclient.asc] https://agentrepo.example.test/debian/ serveragent main\n"
        })
      ).toEqual({ _tag: "Configured", file: "/etc/apt/sources.list.d/driveclient.list" })
    }))

  it.scoped("a legacy entry without signed-by in sources.list counts as configured", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list": "deb https://agentrepo.example.test/debian serveragent main\n"
        })
      ).toEqual({ _tag: "Configured", file: "/etc/apt/sources.list" })
    }))

  it.scoped("a deb822 entry in a .sources file", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/agent.sources":
            "Types: deb\nURIs: https://agentrepo.example.test/debian/\nSuites: serveragent\nComponents: main\nSigned-By: /etc/apt/keyrings/x.asc\n"
        })
      ).toEqual({ _tag: "Configured", file: "/etc/apt/sources.list.d/agent.sources" })
    }))

  it.scoped("a commented-out entry does not count", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/driveclient.list": "# deb https://agentrepo.example.test/debian/ serveragent main\n"
        })
      ).toEqual({ _tag: "Missing" })
    }))

  it.scoped("a disabled deb822 entry does not count", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/agent.sources":
            "Types: deb\nURIs: https://agentrepo.example.test/debian/\nSuites: serveragent\nComponents: main\nEnabled: no\n"
        })
      ).toEqual({ _tag: "Missing" })
    }))

  it.scoped("another suite, or another repository, does not count", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/a.list": "deb https://agentrepo.example.test/debian/ serveragent-testing main\n",
          "/etc/apt/sources.list.d/b.list": "deb https://mirror.example.test/debian/ serveragent main\n"
        })
      ).toEqual({ _tag: "Missing" })
    }))

  it.scoped("files apt ignores (other extensions) do not count", () =>
    Effect.gen(function*() {
      expect(
        yield* stateOf({
          "/etc/apt/sources.list.d/driveclient.list.disabled": "deb https://agentrepo.example.test/debian/ serveragent main\n",
          "/etc/apt/sources.list.d/driveclient.list.dpkg-old": "deb https://agentrepo.example.test/debian/ serveragent main\n"
        })
      ).toEqual({ _tag: "Missing" })
    }))

  it.scoped("an unreadable sources directory is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      // A file where the directory should be: readdir fails with ENOTDIR.
      yield* writeHostFile(root, "/etc/apt/sources.list.d", "not a directory")
      const error = yield* Effect.flip(packages.repositoryState)
      expect(error._tag).toBe("PackageManagerError")
      expect(error.message).toContain("sources.list.d")
    }))

  it.scoped("an unreadable sources file is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      yield* makeHostDirectory(root, "/etc/apt/sources.list")
      const error = yield* Effect.flip(packages.repositoryState)
      expect(error._tag).toBe("PackageManagerError")
    }))
})

describe("AptPackageManager.configureRepository", () => {
  it.scoped("writes the keyring and the one-line entry atomically, mode 0644, whatever the umask", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      const previous = process.umask(0o077)
      yield* Effect.ensuring(
        packages.configureRepository,
        Effect.sync(() => process.umask(previous))
      )
      expect(yield* readHostFile(root, "/etc/apt/keyrings/driveclient.asc")).toBe(KEY)
      expect(yield* readHostFile(root, "/etc/apt/sources.list.d/driveclient.list")).toBe(
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/driveclient.asc] https://agentrepo.example.test/debian/ serveragent main\n"
      )
      expect(yield* modeOf(root, "/etc/apt/keyrings")).toBe(0o755)
      expect(yield* modeOf(root, "/etc/apt/keyrings/driveclient.asc")).toBe(0o644)
      expect(yield* modeOf(root, "/etc/apt/sources.list.d/driveclient.list")).toBe(0o644)
      // No temporary file is left beside them.
      expect(yield* listHostDirectory(root, "/etc/apt/keyrings")).toEqual(["driveclient.asc"])
      expect(yield* listHostDirectory(root, "/etc/apt/sources.list.d")).toEqual(["driveclient.list"])
      expect(yield* packages.repositoryState).toEqual({
        _tag: "Configured",
        file: "/etc/apt/sources.list.d/driveclient.list"
      })
    }))

  it.scoped("replaces an existing driveclient.list whole (a legacy entry migrated in the same file)", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      yield* writeHostFile(root, "/etc/apt/sources.list.d/driveclient.list", "deb http://old.example.test/debian/ serveragent main\n")
      yield* packages.configureRepository
      expect(yield* readHostFile(root, "/etc/apt/sources.list.d/driveclient.list")).toMatch(/^deb \[arch=amd64 signed-by=/)
      expect(yield* listHostDirectory(root, "/etc/apt/sources.list.d")).toEqual(["driveclient.list"])
    }))

  it.scoped("never writes a second entry when another file already has one", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost()
      yield* writeHostFile(root, "/etc/apt/sources.list", "deb https://agentrepo.example.test/debian serveragent main\n")
      yield* packages.configureRepository
      expect(yield* hostFileExists(root, "/etc/apt/sources.list.d/driveclient.list")).toBe(false)
    }))

  it.scoped("a repository that serves no key (only a yum repo file) fails it, and nothing is written", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost({}, { "redhat/drivesrvr.repo": "[drivesrvr]\nbaseurl=x\n" })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error._tag).toBe("RepositoryError")
      expect(error.message).toContain("debian/agentrepo.key")
      expect(yield* hostFileExists(root, "/etc/apt/sources.list.d/driveclient.list")).toBe(false)
    }))

  it.scoped.each([
    { what: "garbage", key: "garbage\n", problem: "not an ASCII-armoured OpenPGP public key" },
    { what: "a private key", key: fixtureKey("private"), problem: "a private key block, not a public key" },
    {
      what: "a corrupted checksum",
      key: REPOSITORY_KEY.replace(/\n=(.)/, (_, first: string) => `\n=${first === "A" ? "B" : "A"}`),
      problem: "the key's armour checksum does not match (a damaged key)"
    },
    { what: "an expired key", key: fixtureKey("expired"), problem: "the key 7DDBAC7942A7FC6BE27A78F8A4B933780ADACB2F expired on 2020-06-01" },
    { what: "a revoked key", key: fixtureKey("revoked"), problem: "the key D53779111DC71D4705C919937B3533535F0B1471 is revoked" }
  ])("$what as the repository key: refused with one line, nothing written", ({ key, problem }) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2027-01-01T00:00:00Z"))
      const { root, host, packages } = yield* withFakeHost({}, { "debian/agentrepo.key": key })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error.message).toBe(`https://agentrepo.example.test/debian/agentrepo.key: ${problem}`)
      expect(yield* hostFileExists(root, "/etc/apt/keyrings")).toBe(false)
      expect(yield* hostFileExists(root, "/etc/apt/sources.list.d")).toBe(false)
      expect(yield* host.commands).toEqual([])
    }))

  it.scoped("a key that is not an armoured public key is refused and nothing is written", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withFakeHost({}, { "debian/agentrepo.key": "<html>oops</html>" })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error.message).toContain("ASCII-armoured")
      expect(yield* hostFileExists(root, "/etc/apt/keyrings/driveclient.asc")).toBe(false)
    }))
})

describe("AptPackageManager commands", () => {
  it.scoped("refresh updates only the sources file holding the agent entry", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withFakeHost()
      yield* writeHostFile(root, "/etc/apt/sources.list.d/vendor.list", "deb https://agentrepo.example.test/debian/ serveragent main\n")
      yield* packages.refresh
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(aptUpdate("/etc/apt/sources.list.d/vendor.list"))
      expect(entry!.env).toEqual(APT_ENV)
      expect(entry!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(10)))
      expect((yield* host.state).refreshed).toBe(true)
    }))

  it.scoped("refresh after configuring updates the file just written", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost()
      yield* packages.configureRepository
      yield* packages.refresh
      expect(yield* host.commands).toEqual([aptUpdate("/etc/apt/sources.list.d/driveclient.list")])
    }))

  it.scoped("refresh without an agent entry updates every source", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost()
      yield* packages.refresh
      expect(yield* host.commands).toEqual([["apt-get", "update"]])
    }))

  it.scoped("the candidate is only known after a refresh, like real apt", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.1.0-1", offered: ["1.1.0-1", "1.2.0-1"] })
      expect(yield* packages.candidateVersion).toEqual(Option.some("1.1.0-1"))
      yield* packages.refresh
      expect(yield* packages.candidateVersion).toEqual(Option.some("1.2.0-1"))
      const entries = yield* host.transcript
      expect(entries[0]!.argv).toEqual(["apt-cache", "policy", "driveclient"])
      expect(entries[0]!.env).toEqual(APT_ENV)
    }))

  it.scoped("no candidate for a package apt does not know", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({})
      expect(yield* packages.candidateVersion).toEqual(Option.none())
    }))

  it.scoped("download and install: exact argv, environment and timeouts", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.1.0-1", offered: ["1.2.0-1"], refreshed: true })
      yield* packages.download
      expect((yield* host.state).downloaded).toBe("1.2.0-1")
      yield* packages.install
      expect((yield* host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
      const [download, install] = yield* host.transcript
      expect(download!.argv).toEqual(APT_DOWNLOAD)
      expect(download!.env).toEqual(APT_ENV)
      expect(download!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(10)))
      expect(install!.argv).toEqual(APT_INSTALL)
      expect(install!.env).toEqual(APT_ENV)
      expect(install!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(30)))
    }))

  it.scoped("a failed transaction is one line: apt's own error", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({
        installed: "1.1.0-1",
        offered: ["1.2.0-1"],
        refreshed: true,
        failures: { install: "E: Sub-process /usr/bin/dpkg returned an error code (1)" }
      })
      const error = yield* Effect.flip(packages.install)
      expect(error).toMatchObject({
        _tag: "PackageManagerError",
        detail: "E: Sub-process /usr/bin/dpkg returned an error code (1)"
      })
      expect(error.message).toBe("apt-get install failed: E: Sub-process /usr/bin/dpkg returned an error code (1)")
    }))

  it.scoped("a failed update is a PackageManagerError naming apt's error", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({ failures: { refresh: "E: Failed to fetch https://agentrepo.example.test/debian/dists/serveragent/InRelease" } })
      const error = yield* Effect.flip(packages.refresh)
      expect(error.detail).toBe("E: Failed to fetch https://agentrepo.example.test/debian/dists/serveragent/InRelease")
    }))

  it.scoped("a command that cannot run at all (timed out) is a PackageManagerError too", () =>
    Effect.gen(function*() {
      const { packages } = yield* withShell(
        cannedShell(new ShellError({ argv: ["apt-get"], reason: "TimedOut", detail: "still running after 30m" }))
      )
      const error = yield* Effect.flip(packages.install)
      expect(error.message).toBe("apt-get install failed: apt-get: still running after 30m")
    }))
})

const THIRTY_MINUTES = Duration.toMillis(Duration.minutes(30))

describe("AptPackageManager.installVersion", () => {
  it.scoped("downgrades to exactly that version: exact argv, environment and timeout", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({
        installed: "1.2.0-1",
        offered: ["1.1.0-1", "1.2.0-1"],
        refreshed: true
      })
      yield* packages.installVersion("1.1.0-1")
      expect((yield* host.state).installed).toEqual({ version: "1.1.0-1", dpkgState: "installed" })
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(aptInstallVersion("1.1.0-1"))
      expect(entry!.env).toEqual(APT_ENV)
      expect(entry!.timeoutMillis).toBe(THIRTY_MINUTES)
    }))

  it.scoped("installs a missing agent at that version", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ offered: ["1.1.0-1", "1.2.0-1"], refreshed: true })
      yield* packages.installVersion("1.1.0-1")
      expect((yield* host.state).installed?.version).toBe("1.1.0-1")
    }))

  it.scoped("a version apt does not know is apt's one-line error, and nothing changes", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.2.0-1", offered: ["1.2.0-1"], refreshed: true })
      const error = yield* Effect.flip(packages.installVersion("1.0.0-1"))
      expect(error._tag).toBe("PackageManagerError")
      expect(error.message).toBe("apt-get install driveclient=1.0.0-1 failed: E: Version '1.0.0-1' for 'driveclient' was not found")
      expect((yield* host.state).installed?.version).toBe("1.2.0-1")
    }))

  it.scoped("a failed rollback transaction is a one-line PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({
        installed: "1.2.0-1",
        offered: ["1.1.0-1", "1.2.0-1"],
        refreshed: true,
        failures: { rollback: "E: Sub-process /usr/bin/dpkg returned an error code (1)" }
      })
      const error = yield* Effect.flip(packages.installVersion("1.1.0-1"))
      expect(error.message).toBe(
        "apt-get install driveclient=1.1.0-1 failed: E: Sub-process /usr/bin/dpkg returned an error code (1)"
      )
    }))

  it.scoped.each(["", "1.1.0-1 --reinstall", "-o=APT::Get::Purge=1", "driveclient"])(
    "%j is not a package version: refused, nothing run",
    (version) =>
      Effect.gen(function*() {
        const { host, packages } = yield* withFakeHost({ installed: "1.2.0-1", offered: ["1.1.0-1"], refreshed: true })
        const error = yield* Effect.flip(packages.installVersion(version))
        expect(error.message).toContain("is not a package version")
        expect(yield* host.commands).toEqual([])
      })
  )

  it.scoped("an epoch is passed on as it is", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "2:1.2.0-1", offered: ["2:1.1.0-1"], refreshed: true })
      yield* packages.installVersion("2:1.1.0-1")
      expect(yield* host.commands).toEqual([aptInstallVersion("2:1.1.0-1")])
    }))
})

describe("AptPackageManager.isHeld", () => {
  it.scoped.each([true, false])("apt-mark showhold driveclient; held: %s", (held) =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.1.0-1", held })
      expect(yield* packages.isHeld).toBe(held)
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(APT_SHOWHOLD)
      expect(entry!.env).toEqual(APT_ENV)
    }))

  it.scoped("a failing apt-mark is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withShell(cannedShell({
        exitCode: 100,
        stdout: "",
        stderr: "E: Could not open file /var/lib/dpkg/status - open (13: Permission denied)\n"
      }))
      const error = yield* Effect.flip(packages.isHeld)
      expect(error.message).toBe(
        "apt-mark showhold failed: E: Could not open file /var/lib/dpkg/status - open (13: Permission denied)"
      )
    }))
})

describe("AptPackageManager.repair", () => {
  it.scoped("nothing reported and the agent installed: none, and nothing but the two queries runs", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.1.0-1" })
      expect(yield* packages.repair).toEqual(Option.none())
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([DPKG_AUDIT, DPKG_QUERY])
      expect(transcript[0]!.env).toEqual({ LC_ALL: "C" })
    }))

  it.scoped("no agent at all: none", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({})
      expect(yield* packages.repair).toEqual(Option.none())
    }))

  it.scoped.each(["unpacked", "half-configured", "triggers-awaited", "triggers-pending"] as const)(
    "an agent left %s: dpkg --configure -a finishes it",
    (dpkgState) =>
      Effect.gen(function*() {
        const { host, packages } = yield* withFakeHost({ installed: "1.2.0-1", dpkgState })
        expect(yield* packages.repair).toEqual(Option.some("dpkg --configure -a"))
        expect((yield* host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
        const transcript = yield* host.transcript
        expect(transcript.map((entry) => entry.argv)).toEqual([DPKG_AUDIT, DPKG_QUERY, DPKG_CONFIGURE_ALL, DPKG_QUERY])
        expect(transcript[2]!.env).toEqual(APT_ENV)
        expect(transcript[2]!.timeoutMillis).toBe(THIRTY_MINUTES)
      })
  )

  it.scoped("another package's unfinished configuration (dpkg --audit output) is finished too", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({
        installed: "1.1.0-1",
        dpkgAudit: "The following packages are only half configured...\n libfoo1   a library\n"
      })
      expect(yield* packages.repair).toEqual(Option.some("dpkg --configure -a"))
      expect(yield* host.commands).toEqual([DPKG_AUDIT, DPKG_QUERY, DPKG_CONFIGURE_ALL, DPKG_QUERY])
      expect(yield* packages.repair).toEqual(Option.none())
    }))

  it.scoped("a half-installed agent, which neither dpkg nor apt-get install -f mends, is reinstalled at its version", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({ installed: "1.2.0-1", dpkgState: "half-installed" })
      expect(yield* packages.repair).toEqual(
        Option.some("dpkg --configure -a, then apt-get install -f, then apt-get install --reinstall driveclient=1.2.0-1")
      )
      expect((yield* host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([
        DPKG_AUDIT,
        DPKG_QUERY,
        DPKG_CONFIGURE_ALL,
        APT_FIX_BROKEN,
        DPKG_QUERY,
        aptReinstallVersion("1.2.0-1"),
        DPKG_QUERY
      ])
      expect(transcript[2]!.exit).toBe(1)
      expect(transcript[3]!.env).toEqual(APT_ENV)
      expect(transcript[3]!.timeoutMillis).toBe(THIRTY_MINUTES)
    }))

  it.scoped("a failed dpkg --configure -a (broken dependencies elsewhere) is followed by apt-get install -f", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withFakeHost({
        installed: "1.1.0-1",
        dpkgAudit: "The following packages are only half configured...\n libfoo1   a library\n",
        failures: { configure: " dependency problems - leaving unconfigured" }
      })
      expect(yield* packages.repair).toEqual(Option.some("dpkg --configure -a, then apt-get install -f"))
      expect((yield* host.commands).at(-2)).toEqual(APT_FIX_BROKEN)
    }))

  it.scoped("a failed apt-get install -f is a one-line PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withFakeHost({
        installed: "1.2.0-1",
        dpkgState: "half-installed",
        failures: { repair: "E: Unmet dependencies. Try 'apt --fix-broken install' with no packages (or specify a solution)." }
      })
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toBe(
        "apt-get install -f failed: E: Unmet dependencies. Try 'apt --fix-broken install' with no packages (or specify a solution)."
      )
    }))

  it.scoped("an agent still half-way after both is an error saying so", () =>
    Effect.gen(function*() {
      const fake = yield* FakeShell.make({ installed: "1.2.0-1", dpkgState: "half-installed" })
      // An apt-get that reports success and changes nothing.
      const { packages } = yield* withShell({
        run: (argv, options) =>
          argv[0] === "apt-get" ? Effect.succeed({ exitCode: 0, stdout: "", stderr: "" }) : fake.shell.run(argv, options)
      })
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toBe(
        "repair failed: driveclient is still half-installed after dpkg --configure -a and apt-get install -f and apt-get install --reinstall driveclient=1.2.0-1"
      )
    }))

  it.scoped("dpkg --audit failing in itself (exit 2) is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withShell(cannedShell({
        exitCode: 2,
        stdout: "",
        stderr: "dpkg: error: parsing file '/var/lib/dpkg/status' near line 7:\n newline in field name\n"
      }))
      const error = yield* Effect.flip(packages.repair)
      expect(error.message).toBe("dpkg --audit failed: newline in field name")
    }))
})

describe("AptPackageManager.refresh: a rotated repository key", () => {
  const AGENT_LIST = "/etc/apt/sources.list.d/driveclient.list"
  const KEYRING = "/etc/apt/keyrings/driveclient.asc"
  const OWN_ENTRY = `deb [arch=amd64 signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main\n`

  /** A host whose agent entry is `entry` in `file`, whose keyring holds the old key, and whose repository is signed with `signedWith`. */
  const rotatedHost = (options: {
    readonly signedWith: string
    readonly served: Readonly<Record<string, string>>
    readonly file?: string
    readonly entry?: string
    readonly base?: string
    readonly refreshFailure?: string
    readonly mode?: number
    readonly ownKeyring?: boolean
    readonly otherFiles?: Readonly<Record<string, string>>
  }) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      if (options.ownKeyring ?? true) yield* writeHostFile(root, KEYRING, REPOSITORY_KEY)
      yield* writeHostFile(root, options.file ?? AGENT_LIST, options.entry ?? OWN_ENTRY, options.mode)
      for (const [file, text] of Object.entries(options.otherFiles ?? {})) yield* writeHostFile(root, file, text)
      const host = yield* FakeShell.make({
        root,
        aptRepositoryKey: options.signedWith,
        ...(options.refreshFailure === undefined ? {} : { failures: { refresh: options.refreshFailure } })
      })
      const logs: Array<string> = []
      const packages = yield* AptPackageManager.make({ root }).pipe(
        Effect.provideService(Shell, host.shell),
        Effect.provide(remoteRepository(options.served, options.base))
      )
      const refresh = packages.refresh.pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      return { root, host, refresh, logs }
    })

  it.scoped("NO_PUBKEY for the agent's source: the key is fetched again, replaced, the update retried once, both fingerprints logged", () =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "debian/agentrepo.key": ROTATED_KEY }
      })
      yield* refresh
      expect(yield* host.commands).toEqual([aptUpdate(AGENT_LIST), aptUpdate(AGENT_LIST)])
      expect((yield* host.transcript).map((entry) => entry.exit)).toEqual([100, 0])
      expect(yield* readHostFile(root, KEYRING)).toBe(ROTATED_KEY)
      expect(yield* modeOf(root, KEYRING)).toBe(0o644)
      expect(yield* listHostDirectory(root, "/etc/apt/keyrings")).toEqual(["driveclient.asc"])
      expect(logs).toEqual([
        `replaced the apt key of https://agentrepo.example.test in ${KEYRING}: ${REPOSITORY_KEY_FINGERPRINT} -> ${ROTATED_KEY_FINGERPRINT}`
      ])
      expect((yield* host.state).refreshed).toBe(true)
    }))

  it.scoped("a source that worked before: apt only warns and exits 0, and the key is fetched again all the same", () =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "debian/agentrepo.key": ROTATED_KEY }
      })
      yield* host.model.refresh
      yield* refresh
      expect(yield* host.commands).toEqual([aptUpdate(AGENT_LIST), aptUpdate(AGENT_LIST)])
      expect((yield* host.transcript).map((entry) => entry.exit)).toEqual([0, 0])
      expect(yield* readHostFile(root, KEYRING)).toBe(ROTATED_KEY)
      expect(logs).toEqual([
        `replaced the apt key of https://agentrepo.example.test in ${KEYRING}: ${REPOSITORY_KEY_FINGERPRINT} -> ${ROTATED_KEY_FINGERPRINT}`
      ])
    }))

  it.scoped("a source that worked before, still refused with the key fetched again: an error, not the old lists", () =>
    Effect.gen(function*() {
      const { host, refresh } = yield* rotatedHost({
        signedWith: fixtureKey("nistp256"),
        served: { "debian/agentrepo.key": ROTATED_KEY }
      })
      yield* host.model.refresh
      const error = yield* Effect.flip(refresh)
      expect(error.message).toMatch(/^apt-get update failed: W: .*NO_PUBKEY .* \(also with the key fetched again\)$/)
      expect(yield* host.commands).toEqual([aptUpdate(AGENT_LIST), aptUpdate(AGENT_LIST)])
    }))

  it.scoped("a legacy http entry naming the updater's keyring is mended the same way", () =>
    Effect.gen(function*() {
      const { host, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "debian/agentrepo.key": ROTATED_KEY },
        file: "/etc/apt/sources.list",
        entry: `deb [signed-by=${KEYRING}] http://agentrepo.example.test/debian serveragent main\n`
      })
      yield* refresh
      expect(yield* host.commands).toEqual([aptUpdate("/etc/apt/sources.list"), aptUpdate("/etc/apt/sources.list")])
      expect(yield* readHostFile(root, KEYRING)).toBe(ROTATED_KEY)
    }))

  const refusals: ReadonlyArray<{ readonly what: string; readonly options: Parameters<typeof rotatedHost>[0]; readonly why: string }> = [
    {
      what: "the repository still serves the key apt rejects",
      options: { signedWith: ROTATED_KEY, served: { "debian/agentrepo.key": REPOSITORY_KEY } },
      why: `the repository still serves the key ${REPOSITORY_KEY_FINGERPRINT}`
    },
    {
      what: "the key fetched again is an HTML page",
      options: { signedWith: ROTATED_KEY, served: { "debian/agentrepo.key": "<html>maintenance</html>" } },
      why: "fetching the key again: https://agentrepo.example.test/debian/agentrepo.key: not an ASCII-armoured OpenPGP public key"
    },
    {
      what: "the key fetched again is a private key",
      options: { signedWith: ROTATED_KEY, served: { "debian/agentrepo.key": fixtureKey("private") } },
      why: "fetching the key again: https://agentrepo.example.test/debian/agentrepo.key: a private key block, not a public key"
    },
    {
      what: "the key is gone from the repository",
      options: { signedWith: ROTATED_KEY, served: {} },
      why: "fetching the key again: https://agentrepo.example.test/debian/agentrepo.key: HTTP status 404"
    },
    {
      what: "the -r base is plain http",
      options: {
          signedWith: ROTATED_KEY,
          served: { "debian/agentrepo.key": ROTATED_KEY },
          base: "http://agentrepo.example.test",
          entry: `deb [signed-by=${KEYRING}] http://agentrepo.example.test/debian/ serveragent main\n`
        },
      why: "the key is not fetched again over plain http from http://agentrepo.example.test"
    },
    {
      what: "an administrator's entry names another keyring",
      options: {
          signedWith: ROTATED_KEY,
          served: { "debian/agentrepo.key": ROTATED_KEY },
          file: "/etc/apt/sources.list.d/vendor.list",
          entry: "deb [signed-by=/etc/apt/keyrings/vendor.gpg] https://agentrepo.example.test/debian/ serveragent main\n"
        },
      why: `the agent's entry in /etc/apt/sources.list.d/vendor.list uses /etc/apt/keyrings/vendor.gpg, not ${KEYRING}: its key is left to the administrator`
    },
    {
      what: "a legacy entry without signed-by, with a plain http -r",
      options: {
          signedWith: ROTATED_KEY,
          served: { "debian/agentrepo.key": ROTATED_KEY },
          base: "http://agentrepo.example.test",
          file: "/etc/apt/sources.list",
          entry: "deb http://agentrepo.example.test/debian serveragent main\n"
        },
      why: "the key is not fetched again over plain http from http://agentrepo.example.test"
    },
    {
      what: "a legacy entry without signed-by, when the key fetched again is an HTML page",
      options: {
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": "<html>maintenance</html>" },
          file: "/etc/apt/sources.list",
          entry: "deb https://agentrepo.example.test/debian serveragent main\n"
        },
      why: "fetching the key again: https://agentrepo.example.test/debian/agentrepo.key: not an ASCII-armoured OpenPGP public key"
    },
    {
      what: "a legacy entry whose source another file names with another keyring",
      options: {
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file: "/etc/apt/sources.list",
          entry: "deb https://agentrepo.example.test/debian serveragent main\n",
          otherFiles: {
            "/etc/apt/sources.list.d/vendor.list":
              "deb [signed-by=/etc/apt/keyrings/vendor.gpg] https://agentrepo.example.test/debian/ serveragent main\n"
          }
        },
      why: `the agent's entry in /etc/apt/sources.list cannot be moved to ${KEYRING}: /etc/apt/sources.list.d/vendor.list holds another entry for it`
    }
  ]

  it.scoped.each(refusals)("$what: one line, the keyring untouched, no retry", ({ options, why }) =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost(options)
      const error = yield* Effect.flip(refresh)
      // apt names the source by the entry's URI, without its trailing slash.
      const source = /(https?:\/\/\S+?)\/? serveragent/.exec(options.entry ?? OWN_ENTRY)![1]
      expect(error.message).toBe(`apt-get update failed: E: The repository '${source} serveragent InRelease' is not signed. (${why})`)
      expect(error.message).not.toContain("\n")
      expect(yield* host.commands).toHaveLength(1)
      expect(yield* readHostFile(root, KEYRING)).toBe(REPOSITORY_KEY)
      expect(yield* listHostDirectory(root, "/etc/apt/keyrings")).toEqual(["driveclient.asc"])
      expect(yield* readHostFile(root, options.file ?? AGENT_LIST)).toBe(options.entry ?? OWN_ENTRY)
      expect(logs).toEqual([])
    }))

  it.scoped("still refused with the key fetched again: one retry, then apt's error", () =>
    Effect.gen(function*() {
      const { host, refresh, root } = yield* rotatedHost({
        signedWith: fixtureKey("nistp256"),
        served: { "debian/agentrepo.key": ROTATED_KEY }
      })
      const error = yield* Effect.flip(refresh)
      expect(error.message).toBe(
        "apt-get update failed: E: The repository 'https://agentrepo.example.test/debian serveragent InRelease' is not signed. (also with the key fetched again)"
      )
      expect(yield* host.commands).toEqual([aptUpdate(AGENT_LIST), aptUpdate(AGENT_LIST)])
      expect(yield* readHostFile(root, KEYRING)).toBe(ROTATED_KEY)
    }))

  it.scoped("another failure of apt-get update is reported as it is: no key fetched, nothing written", () =>
    Effect.gen(function*() {
      const failure =
        "E: Failed to fetch https://agentrepo.example.test/debian/dists/serveragent/InRelease  Could not resolve 'agentrepo.example.test'"
      const { host, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "debian/agentrepo.key": ROTATED_KEY },
        refreshFailure: failure
      })
      const error = yield* Effect.flip(refresh)
      expect(error.message).toBe(`apt-get update failed: ${failure}`)
      expect(yield* host.commands).toHaveLength(1)
      expect(yield* readHostFile(root, KEYRING)).toBe(REPOSITORY_KEY)
    }))

  describe("a legacy entry without signed-by (apt 3 no longer reads the apt-key keyring it relied on)", () => {
    const MAIN_LIST = "/etc/apt/sources.list"
    const moved = (file: string) => `moved the agent's entry in ${file} to the keyring ${KEYRING} (key ${REPOSITORY_KEY_FINGERPRINT})`

    it.scoped("a one-line entry gets signed-by in that same file, mode kept, every other line as it was; the keyring is written; one retry, one line logged", () =>
      Effect.gen(function*() {
        const before = [
          "# the agent, added by the old updater\r\n",
          "deb http://deb.debian.org/debian bookworm main\r\n",
          "deb [arch=amd64] https://agentrepo.example.test/debian serveragent main\r\n",
          "# deb-src https://agentrepo.example.test/debian serveragent main\r\n"
        ]
        const { host, logs, refresh, root } = yield* rotatedHost({
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file: MAIN_LIST,
          entry: before.join(""),
          mode: 0o640,
          ownKeyring: false
        })
        yield* refresh
        expect(yield* host.commands).toEqual([aptUpdate(MAIN_LIST), aptUpdate(MAIN_LIST)])
        expect((yield* host.transcript).map((entry) => entry.exit)).toEqual([100, 0])
        const after = [...before]
        after[2] = `deb [arch=amd64 signed-by=${KEYRING}] https://agentrepo.example.test/debian serveragent main\r\n`
        expect(yield* readHostFile(root, MAIN_LIST)).toBe(after.join(""))
        expect(yield* modeOf(root, MAIN_LIST)).toBe(0o640)
        expect(yield* readHostFile(root, KEYRING)).toBe(REPOSITORY_KEY)
        expect(yield* modeOf(root, KEYRING)).toBe(0o644)
        expect(yield* listHostDirectory(root, "/etc/apt/keyrings")).toEqual(["driveclient.asc"])
        expect(yield* listHostDirectory(root, "/etc")).toEqual(["apt"])
        expect(yield* listHostDirectory(root, "/etc/apt")).toEqual(["keyrings", "sources.list"])
        expect(logs).toEqual([moved(MAIN_LIST)])
        expect((yield* host.state).refreshed).toBe(true)
      }))

    it.scoped("a deb822 stanza among others, in a source that worked before (apt only warns): a Signed-By field, the rest byte for byte", () =>
      Effect.gen(function*() {
        const file = "/etc/apt/sources.list.d/vendors.sources"
        const debian = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
        const agent = "# backup agent\nTypes: deb\nURIs: https://agentrepo.example.test/debian/\nSuites: serveragent\nComponents: main\n"
        const { host, logs, refresh, root } = yield* rotatedHost({
          signedWith: ROTATED_KEY,
          served: { "debian/agentrepo.key": ROTATED_KEY },
          file,
          entry: `${debian}\n${agent}`
        })
        yield* host.model.refresh
        yield* refresh
        expect(yield* host.commands).toEqual([aptUpdate(file), aptUpdate(file)])
        expect((yield* host.transcript).map((entry) => entry.exit)).toEqual([0, 0])
        expect(yield* readHostFile(root, file)).toBe(`${debian}\n${agent}Signed-By: ${KEYRING}\n`)
        expect(yield* readHostFile(root, KEYRING)).toBe(ROTATED_KEY)
        expect(yield* listHostDirectory(root, "/etc/apt/sources.list.d")).toEqual(["vendors.sources"])
        expect(logs).toEqual([`moved the agent's entry in ${file} to the keyring ${KEYRING} (key ${ROTATED_KEY_FINGERPRINT})`])
      }))

    it.scoped("a legacy http entry: moved all the same, the key fetched over https only", () =>
      Effect.gen(function*() {
        const { host, logs, refresh, root } = yield* rotatedHost({
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file: MAIN_LIST,
          entry: "deb http://agentrepo.example.test/debian serveragent main\n",
          ownKeyring: false
        })
        yield* refresh
        expect(yield* host.commands).toEqual([aptUpdate(MAIN_LIST), aptUpdate(MAIN_LIST)])
        expect(yield* readHostFile(root, MAIN_LIST)).toBe(`deb [signed-by=${KEYRING}] http://agentrepo.example.test/debian serveragent main\n`)
        expect(logs).toEqual([moved(MAIN_LIST)])
      }))

    it.scoped("a deb822 stanza that also names another repository is not moved: one line, nothing written, no retry", () =>
      Effect.gen(function*() {
        const file = "/etc/apt/sources.list.d/agent.sources"
        const entry = "Types: deb\nURIs: https://agentrepo.example.test/debian/ https://mirror.example.test/debian/\nSuites: serveragent\nComponents: main\n"
        const { host, logs, refresh, root } = yield* rotatedHost({
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file,
          entry,
          ownKeyring: false
        })
        const error = yield* Effect.flip(refresh)
        expect(error.message).toBe(
          `apt-get update failed: E: The repository 'https://agentrepo.example.test/debian serveragent InRelease' is not signed. (the agent's entry in ${file} cannot be moved to ${KEYRING}: its stanza names other repositories or suites as well)`
        )
        expect(yield* host.commands).toHaveLength(1)
        expect(yield* readHostFile(root, file)).toBe(entry)
        expect(yield* hostFileExists(root, "/etc/apt/keyrings")).toBe(false)
        expect(logs).toEqual([])
      }))

    it.scoped("still refused after the move: one retry, then apt's error; the move stays (the entry names the updater's keyring)", () =>
      Effect.gen(function*() {
        const { host, refresh, root } = yield* rotatedHost({
          signedWith: fixtureKey("nistp256"),
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file: MAIN_LIST,
          entry: "deb https://agentrepo.example.test/debian serveragent main\n",
          ownKeyring: false
        })
        const error = yield* Effect.flip(refresh)
        expect(error.message).toBe(
          "apt-get update failed: E: The repository 'https://agentrepo.example.test/debian serveragent InRelease' is not signed. (also with the key fetched again)"
        )
        expect(yield* host.commands).toEqual([aptUpdate(MAIN_LIST), aptUpdate(MAIN_LIST)])
        expect(yield* readHostFile(root, MAIN_LIST)).toBe(`deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian serveragent main\n`)
      }))

    it.scoped("the next pass finds the entry moved: one update, no second move", () =>
      Effect.gen(function*() {
        const { host, logs, refresh, root } = yield* rotatedHost({
          signedWith: REPOSITORY_KEY,
          served: { "debian/agentrepo.key": REPOSITORY_KEY },
          file: MAIN_LIST,
          entry: "deb https://agentrepo.example.test/debian serveragent main\n",
          ownKeyring: false
        })
        yield* refresh
        yield* host.model.refresh
        yield* refresh
        expect(yield* host.commands).toEqual([aptUpdate(MAIN_LIST), aptUpdate(MAIN_LIST), aptUpdate(MAIN_LIST)])
        expect(logs).toEqual([moved(MAIN_LIST)])
        expect(yield* readHostFile(root, MAIN_LIST)).toBe(`deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian serveragent main\n`)
      }))
  })
})

describe("AptPackageManager.install: the downloaded archive, by dpkg, when apt's plan is that package alone", () => {
  const ARCHIVE = "/var/cache/apt/archives/driveclient_1.2.0-1_amd64.deb"
  const STATUS = "/var/lib/dpkg/status"

  /** `shell`, except that `argv` gets `answer` (and is left out of the fake's transcript). */
  const answering = (shell: ShellShape, argv: ReadonlyArray<string>, answer: CommandResult): ShellShape => ({
    run: (command, options) =>
      JSON.stringify(command) === JSON.stringify(argv) ? Effect.succeed(answer) : shell.run(command, options)
  })

  /** An old agent with 1.2.0-1 offered, on a root with dpkg's status file (unless `status` is false). */
  const dpkgHost = (
    options: {
      readonly status?: boolean
      readonly failures?: FakeShell.FakeFailures
      readonly shell?: (shell: ShellShape) => ShellShape
    } = {}
  ) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      if (options.status !== false) yield* writeHostFile(root, STATUS, "Package: driveclient\nVersion: 1.1.0-1\n")
      const host = yield* FakeShell.make({
        root,
        installed: "1.1.0-1",
        offered: ["1.1.0-1", "1.2.0-1"],
        refreshed: true,
        ...(options.failures === undefined ? {} : { failures: options.failures })
      })
      const packages = yield* AptPackageManager.make({ root }).pipe(
        Effect.provideService(Shell, options.shell === undefined ? host.shell : options.shell(host.shell)),
        Effect.provide(remoteRepository({ "debian/agentrepo.key": KEY }))
      )
      return { root, host, packages }
    })

  it.scoped("the download asks apt for its plan; the install hands the archive to dpkg: exact argv, environment, timeout", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* packages.install
      expect(yield* host.commands).toEqual([APT_DOWNLOAD, APT_SIMULATE, APT_CONFIG_DUMP, dpkgInstallArchive(ARCHIVE)])
      const [, simulate, , install] = yield* host.transcript
      expect(simulate!.env).toEqual(APT_ENV)
      expect(install!.env).toEqual(APT_ENV)
      expect(install!.timeoutMillis).toBe(THIRTY_MINUTES)
      expect((yield* host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
    }))

  it.scoped("apt's binary cache is dropped after dpkg ran, for apt to rebuild from dpkg's new status", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* dpkgHost()
      yield* writeHostFile(root, "/var/cache/apt/pkgcache.bin", "apt's cache\n")
      yield* packages.download
      expect(yield* hostFileExists(root, "/var/cache/apt/pkgcache.bin")).toBe(true)
      yield* packages.install
      expect(yield* hostFileExists(root, "/var/cache/apt/pkgcache.bin")).toBe(false)
    }))

  it.scoped("the plan is used once: a second install goes through apt-get", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* packages.install
      yield* packages.install
      expect((yield* host.commands).at(-1)).toEqual(APT_INSTALL)
    }))

  it.scoped("apt runs an administrator's hooks around dpkg (DPkg::Pre-Invoke): apt-get installs, to run them", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost({
        shell: (shell) =>
          answering(shell, APT_CONFIG_DUMP, {
            exitCode: 0,
            stdout: 'DPkg::Pre-Install-Pkgs:: "/usr/sbin/dpkg-preconfigure --apt || true";\n' +
              'DPkg::Pre-Invoke "";\nDPkg::Pre-Invoke:: "if [ -x /usr/bin/etckeeper ]; then etckeeper pre-install; fi";\n',
            stderr: ""
          })
      })
      yield* packages.download
      yield* packages.install
      // (The dump, answered above, is not in the fake host's transcript.)
      expect(yield* host.commands).toEqual([APT_DOWNLOAD, APT_SIMULATE, APT_INSTALL])
    }))

  it.scoped("no dpkg status file: no plan is asked for, apt-get installs", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost({ status: false })
      yield* packages.download
      yield* packages.install
      expect(yield* host.commands).toEqual([APT_DOWNLOAD, APT_INSTALL])
    }))

  it.scoped("dpkg's journal holds entries (a run not folded in): no plan, apt-get installs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* dpkgHost()
      yield* writeHostFile(root, "/var/lib/dpkg/updates/0000", "Package: other\n")
      yield* packages.download
      yield* packages.install
      expect(yield* host.commands).toEqual([APT_DOWNLOAD, APT_INSTALL])
    }))

  it.scoped("a plan that installs another package too goes through apt-get", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost({
        shell: (shell) =>
          answering(shell, APT_SIMULATE, {
            exitCode: 0,
            stdout: "Inst libagent1 (2.0-1 Debian:12/stable [amd64])\nInst driveclient [1.1.0-1] (1.2.0-1 agentrepo:serveragent [amd64])\n" +
              "Conf libagent1 (2.0-1 Debian:12/stable [amd64])\nConf driveclient (1.2.0-1 agentrepo:serveragent [amd64])\n",
            stderr: ""
          })
      })
      yield* packages.download
      yield* packages.install
      expect(yield* host.commands).toEqual([APT_DOWNLOAD, APT_INSTALL])
    }))

  it.scoped("dpkg's database changed between the download and the install: apt-get installs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* writeHostFile(root, STATUS, "Package: driveclient\nVersion: 1.1.0-1\n\nPackage: libagent1\nVersion: 2.0-1\n")
      yield* packages.install
      expect((yield* host.commands).slice(3)).toEqual([APT_INSTALL])
    }))

  it.scoped("the archive changed after the download: apt-get installs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* writeHostFile(root, ARCHIVE, "something else, and longer than the fake archive was\n")
      yield* packages.install
      expect((yield* host.commands).slice(3)).toEqual([APT_INSTALL])
    }))

  it.scoped("a refresh drops the plan: the next install goes through apt-get", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* packages.refresh
      yield* packages.install
      expect((yield* host.commands).at(-1)).toEqual(APT_INSTALL)
    }))

  it.scoped("a download that fails drops the plan of an earlier one: apt-get installs", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost()
      yield* packages.download
      yield* host.update((state) => ({ ...state, failures: { download: "E: Failed to fetch driveclient_1.2.0-1_amd64.deb" } }))
      yield* Effect.flip(packages.download)
      yield* host.update((state) => ({ ...state, failures: {} }))
      yield* packages.install
      expect((yield* host.commands).at(-1)).toEqual(APT_INSTALL)
    }))

  it.scoped("dpkg refusing without touching its database (its frontend lock held) leaves the transaction to apt-get, which waits", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost({
        shell: (shell) =>
          answering(shell, dpkgInstallArchive(ARCHIVE), {
            exitCode: 2,
            stdout: "",
            stderr: "dpkg: error: dpkg frontend lock was locked by another process with pid 4242\n" +
              "Note: removing the lock file is always wrong, and can end up damaging the\nlocked area and the entire system. See <https://wiki.debian.org/Teams/Dpkg/FAQ#db-lock>.\n"
          })
      })
      yield* packages.download
      yield* packages.install
      expect((yield* host.commands).slice(3)).toEqual([APT_INSTALL])
      expect((yield* host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
    }))

  it.scoped("a dpkg that fails after changing its database fails the transaction with dpkg's reason; apt-get is not run", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* dpkgHost({
        failures: { install: "new driveclient package pre-installation script subprocess returned error exit status 1" }
      })
      yield* packages.download
      const error = yield* Effect.flip(packages.install)
      expect(error).toMatchObject({
        _tag: "PackageManagerError",
        operation: "dpkg -i",
        detail: `dpkg: error processing archive ${ARCHIVE} (--install): ` +
          "new driveclient package pre-installation script subprocess returned error exit status 1"
      })
      expect((yield* host.commands).slice(3)).toEqual([dpkgInstallArchive(ARCHIVE)])
    }))
})
