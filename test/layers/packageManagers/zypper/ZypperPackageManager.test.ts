import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { parseArmoredPublicKey } from "../../../../src/domain/OpenPgpKey.js"
import * as ZypperPackageManager from "../../../../src/layers/packageManagers/zypper/ZypperPackageManager.js"
import { type CommandResult, Shell, type ShellShape } from "../../../../src/services/Shell.js"
import { cannedShell } from "../../../support/CannedShell.js"
import {
  type Argv,
  RPM_QUERY,
  rpmImport,
  ZYPPER_DOWNLOAD,
  ZYPPER_INSTALL,
  ZYPPER_KEY_FILE,
  ZYPPER_LOCKS,
  ZYPPER_REFRESH,
  ZYPPER_REFRESH_WITH_ROTATED_KEY,
  ZYPPER_SEARCH,
  zypperDownloadVersion,
  zypperInstallFile,
  zypperInstallVersion,
  zypperRemoveVersion
} from "../../../support/ExpectedCommands.js"
import * as FakeShell from "../../../support/FakeShell.js"
import { deadPid } from "../../../support/LockTesting.js"
import {
  fixtureKey,
  REPOSITORY_KEY,
  REPOSITORY_KEY_FINGERPRINT,
  ROTATED_KEY,
  ROTATED_KEY_FINGERPRINT
} from "../../../support/OpenPgpKeys.js"
import { BASE, remoteRepository } from "../../../support/RemoteRepository.js"
import {
  hostFileExists,
  listHostDirectory,
  modeOf,
  onHost,
  readHostFile,
  tempRoot,
  writeHostFile
} from "../../../support/TempRoot.js"

const KEY = REPOSITORY_KEY
const KEY_URL = `${BASE}/redhat/RPM-GPG-KEY-drivesrvr`
const REPO_WITHOUT_KEY = "[drivesrvr]\nname=Cloud Backup agent\nbaseurl=https://agentrepo.example.test/redhat/\nenabled=1\ngpgcheck=1\n"
const REPO = `${REPO_WITHOUT_KEY}gpgkey=${KEY_URL}\n`
const SERVED = { "redhat/drivesrvr.repo": REPO, "redhat/RPM-GPG-KEY-drivesrvr": KEY }
const REPO_FILE = "/etc/zypp/repos.d/drivesrvr.repo"
const KEPT = "/var/lib/cloudbackup-updater/packages"
const ZYPPER_ENV = { LC_ALL: "C", ZYPP_LOCK_TIMEOUT: "300" }
const rpmFile = (version: string) => `driveclient-${version}.x86_64.rpm`
const [OLD, NEW] = ["1.1.0-1.el9", "1.2.0-1.el9"]

interface Options {
  readonly served?: Readonly<Record<string, string>>
  /** Whether the agent repository's .repo file is in place; true by default. */
  readonly configured?: boolean
  /** Changes what the fake host's shell answers. */
  readonly shell?: (fake: ShellShape) => ShellShape
}

/** The layer over a fake host sharing its root: what zypper downloads lands where the layer looks. */
const withHost = (init: FakeShell.FakeHostInit = {}, options: Options = {}) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    if (options.configured ?? true) yield* writeHostFile(root, REPO_FILE, REPO)
    const host = yield* FakeShell.make({ root, ...init })
    const packages = yield* ZypperPackageManager.make({ root }).pipe(
      Effect.provideService(Shell, (options.shell ?? ((fake) => fake))(host.shell)),
      Effect.provide(remoteRepository(options.served ?? SERVED))
    )
    return { root, host, packages }
  })

/** zypper's answer turned into exit `exitCode` once the fake has done what it says. */
const zypperExits = (exitCode: number, extra: string) => (fake: ShellShape): ShellShape => ({
  run: (argv, options) =>
    Effect.map(fake.run(argv, options), (result): CommandResult =>
      argv[0] === "zypper" && argv.includes("install") && result.exitCode === 0
        ? { ...result, exitCode, stdout: result.stdout + extra }
        : result)
})

/** A zypper that says it did everything and does nothing. */
const zypperDoesNothing = (fake: ShellShape): ShellShape => ({
  run: (argv, options) => (argv[0] === "zypper" ? Effect.succeed({ exitCode: 0, stdout: "", stderr: "" }) : fake.run(argv, options))
})

const SCRIPTLET_FAILED = `Additional rpm output:\nwarning: %post(driveclient-${OLD}.x86_64) scriptlet failed, exit status 1\n`

describe("ZypperPackageManager: the installed agent", () => {
  it.scoped("installedVersion: rpm -q, with LC_ALL=C and ZYPP_LOCK_TIMEOUT=300", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD })
      expect(yield* packages.installedVersion).toEqual(Option.some(OLD))
      const [entry] = yield* host.transcript
      expect(entry!.argv).toEqual(RPM_QUERY)
      expect(entry!.env).toEqual(ZYPPER_ENV)
    }))

  it.scoped("installedVersion: not installed is none", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost()
      expect(yield* packages.installedVersion).toEqual(Option.none())
      expect(yield* packages.installedState).toEqual(Option.none())
    }))

  it.scoped("installedState: two versions (an interrupted upgrade) are the newest, unfinished", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ installed: OLD, duplicate: NEW })
      expect(yield* packages.installedState).toEqual(Option.some({ version: NEW, unfinished: true }))
      const single = yield* withHost({ installed: OLD })
      expect(yield* single.packages.installedState).toEqual(Option.some({ version: OLD, unfinished: false }))
    }))

  it.scoped("another rpm failure is a PackageManagerError", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const packages = yield* ZypperPackageManager.make({ root }).pipe(
        Effect.provideService(Shell, cannedShell({ exitCode: 1, stdout: "", stderr: "error: cannot open Packages database in /var/lib/rpm\n" })),
        Effect.provide(remoteRepository(SERVED))
      )
      expect((yield* Effect.flip(packages.installedVersion)).message).toBe(
        "rpm -q failed: error: cannot open Packages database in /var/lib/rpm"
      )
    }))
})

describe("ZypperPackageManager: the repository", () => {
  it.scoped("repositoryState: any .repo file in /etc/zypp/repos.d defining [drivesrvr]", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost({}, { configured: false })
      expect(yield* packages.repositoryState).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/zypp/repos.d/repo-oss.repo", "[repo-oss]\nbaseurl=https://download.example.test/\n")
      yield* writeHostFile(root, "/etc/zypp/repos.d/drivesrvr.repo.rpmsave", REPO)
      yield* writeHostFile(root, "/etc/yum.repos.d/drivesrvr.repo", REPO)
      expect(yield* packages.repositoryState).toEqual({ _tag: "Missing" })
      yield* writeHostFile(root, "/etc/zypp/repos.d/vendor.repo", REPO)
      expect(yield* packages.repositoryState).toEqual({ _tag: "Configured", file: "/etc/zypp/repos.d/vendor.repo" })
    }))

  it.scoped("configureRepository: the key is checked, kept and imported with rpm --import, then drivesrvr.repo is written 0644", () =>
    Effect.gen(function*() {
      let repoFileAtImport: boolean | undefined
      const { root, host, packages } = yield* withHost({}, {
        configured: false,
        shell: (fake) => ({
          run: (argv, options) =>
            Effect.zipRight(
              Effect.sync(() => {
                if (argv[0] === "rpm" && argv[1] === "--import") repoFileAtImport = fs.existsSync(onHost(root, REPO_FILE))
              }),
              fake.run(argv, options)
            )
        })
      })
      const previous = process.umask(0o077)
      yield* Effect.ensuring(packages.configureRepository, Effect.sync(() => process.umask(previous)))
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([rpmImport(ZYPPER_KEY_FILE)])
      expect(transcript[0]!.env).toEqual(ZYPPER_ENV)
      expect(repoFileAtImport).toBe(false)
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(KEY)
      expect(yield* readHostFile(root, REPO_FILE)).toBe(REPO)
      expect(yield* modeOf(root, REPO_FILE)).toBe(0o644)
      expect(yield* listHostDirectory(root, "/etc/zypp/repos.d")).toEqual(["drivesrvr.repo"])
      expect(yield* packages.repositoryState).toEqual({ _tag: "Configured", file: REPO_FILE })
    }))

  it.scoped("configureRepository: every key gpgkey= lists is imported", () =>
    Effect.gen(function*() {
      const second = `${BASE}/redhat/RPM-GPG-KEY-drivesrvr-2027`
      const { host, packages } = yield* withHost({}, {
        configured: false,
        served: { ...SERVED, "redhat/drivesrvr.repo": `${REPO_WITHOUT_KEY}gpgkey=${KEY_URL} ${second}\n`, "redhat/RPM-GPG-KEY-drivesrvr-2027": KEY }
      })
      yield* packages.configureRepository
      expect(yield* host.commands).toEqual([rpmImport(ZYPPER_KEY_FILE), rpmImport(ZYPPER_KEY_FILE)])
    }))

  it.scoped("configureRepository refuses a repo file without gpgkey: nothing written, nothing run", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({}, { configured: false, served: { "redhat/drivesrvr.repo": REPO_WITHOUT_KEY } })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error.message).toContain("names no gpgkey")
      expect(yield* host.commands).toEqual([])
      expect(yield* hostFileExists(root, REPO_FILE)).toBe(false)
      expect(yield* hostFileExists(root, ZYPPER_KEY_FILE)).toBe(false)
    }))

  it.scoped.each([
    { what: "not a key", keyFiles: { "redhat/RPM-GPG-KEY-drivesrvr": "<html><body>Not Found</body></html>" } },
    { what: "missing", keyFiles: {} }
  ])("configureRepository refuses a key that is $what: nothing imported nor written", ({ keyFiles }) =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({}, { configured: false, served: { "redhat/drivesrvr.repo": REPO, ...keyFiles } })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error._tag).toBe("RepositoryError")
      expect(error.message).toContain(KEY_URL)
      expect(yield* host.commands).toEqual([])
      expect(yield* hostFileExists(root, REPO_FILE)).toBe(false)
      expect(yield* hostFileExists(root, ZYPPER_KEY_FILE)).toBe(false)
    }))

  it.scoped("configureRepository: a key rpm refuses writes no repo file", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost({}, {
        configured: false,
        shell: () => cannedShell({ exitCode: 1, stdout: "", stderr: `error: ${ZYPPER_KEY_FILE}: key 1 import failed.\n` })
      })
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error.message).toBe(`rpm --import ${KEY_URL} failed: error: ${ZYPPER_KEY_FILE}: key 1 import failed.`)
      expect(yield* hostFileExists(root, REPO_FILE)).toBe(false)
    }))

  it.scoped("refresh: only the agent repository", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ offered: [NEW] })
      yield* packages.refresh
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([ZYPPER_REFRESH])
      expect(transcript[0]!.env).toEqual(ZYPPER_ENV)
      expect(transcript[0]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(10)))
      expect((yield* host.state).refreshed).toBe(true)
    }))

  it.scoped("refresh: a repository that cannot be reached (exit 4) is a one-line error", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ failures: { refresh: "Could not refresh the repositories because of errors." } })
      expect((yield* Effect.flip(packages.refresh)).message).toBe(
        "zypper refresh failed: Problem retrieving files from 'Cloud Backup agent'."
      )
    }))

  it.scoped("candidateVersion: the newest in the search XML after a refresh; none (exit 104) before", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD, offered: [OLD, "1.10.0-1.el9", NEW] })
      expect(yield* packages.candidateVersion).toEqual(Option.none())
      expect((yield* host.transcript).at(-1)!.exit).toBe(104)
      yield* packages.refresh
      expect(yield* packages.candidateVersion).toEqual(Option.some("1.10.0-1.el9"))
      expect((yield* host.commands).at(-1)).toEqual(ZYPPER_SEARCH)
    }))

  it.scoped("candidateVersion: another exit status is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({}, { configured: false })
      const error = yield* Effect.flip(packages.candidateVersion)
      // zypper's stdout comes last here: its hint, not the stderr line naming the repository.
      expect(error.message).toBe("zypper search failed: Repository 'drivesrvr' not found by its alias, number, or URI.")
      expect((yield* host.transcript).at(-1)!.exit).toBe(3)
    }))
})

describe("ZypperPackageManager.refresh: a rotated signing key", () => {
  const STATE_DIR = "/var/lib/cloudbackup-updater"
  /** zypper's line for a repository signed with `key` while the rpm database does not hold it. */
  const unknownKeyLine = (fingerprint: string) =>
    `File 'repomd.xml' from repository 'Cloud Backup agent' is signed with an unknown key '${fingerprint.slice(-16)}'.`
  const ROTATED_LINE = unknownKeyLine(ROTATED_KEY_FINGERPRINT)
  const replaced = (old: string, now: string) =>
    `replaced the signing key of [drivesrvr] (${REPO_FILE}) in ${ZYPPER_KEY_FILE}: ${old} -> ${now}`

  /** A host whose repo file is `repoFile`, whose key file holds the key imported before, and whose repository is signed with `signedWith`. */
  const rotatedHost = (options: {
    readonly signedWith: string
    readonly served: Readonly<Record<string, string>>
    readonly repoFile?: string
    readonly base?: string
    readonly importedBefore?: string | undefined
    readonly refreshFailure?: string
  }) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* writeHostFile(root, REPO_FILE, options.repoFile ?? REPO)
      const before = "importedBefore" in options ? options.importedBefore : REPOSITORY_KEY
      if (before !== undefined) yield* writeHostFile(root, ZYPPER_KEY_FILE, before)
      const host = yield* FakeShell.make({
        root,
        installed: OLD,
        offered: [OLD, NEW],
        rpmRepositoryKey: options.signedWith,
        ...(options.refreshFailure === undefined ? {} : { failures: { refresh: options.refreshFailure } })
      })
      const logs: Array<string> = []
      const packages = yield* ZypperPackageManager.make({ root }).pipe(
        Effect.provideService(Shell, host.shell),
        Effect.provide(remoteRepository(options.served, options.base))
      )
      const refresh = packages.refresh.pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      return { root, host, refresh, logs }
    })

  it.scoped("the key not imported: fetched again from gpgkey=, written, rpm --import-ed, the refresh retried once, both fingerprints logged", () =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY }
      })
      yield* refresh
      expect(yield* host.commands).toEqual(ZYPPER_REFRESH_WITH_ROTATED_KEY)
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.exit)).toEqual([4, 0, 0])
      expect(transcript.every((entry) => JSON.stringify(entry.env) === JSON.stringify(ZYPPER_ENV))).toBe(true)
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(ROTATED_KEY)
      expect(yield* modeOf(root, ZYPPER_KEY_FILE)).toBe(0o644)
      expect(yield* listHostDirectory(root, STATE_DIR)).toEqual(["drivesrvr-signing-key.asc"])
      expect(yield* host.rpmImportedKeys).toEqual([ROTATED_KEY])
      expect(logs).toEqual([replaced(REPOSITORY_KEY_FINGERPRINT, ROTATED_KEY_FINGERPRINT)])
      expect((yield* host.state).refreshed).toBe(true)
      expect(yield* readHostFile(root, REPO_FILE)).toBe(REPO)
    }))

  it.scoped("no key file from before: the old fingerprint is none", () =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY },
        importedBefore: undefined
      })
      yield* refresh
      expect(yield* host.commands).toEqual(ZYPPER_REFRESH_WITH_ROTATED_KEY)
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(ROTATED_KEY)
      expect(logs).toEqual([replaced("none", ROTATED_KEY_FINGERPRINT)])
    }))

  it.scoped("-r plain http: a plain-http gpgkey= is what the repository policy allows, and is fetched again", () =>
    Effect.gen(function*() {
      const base = "http://agentrepo.example.test"
      const { host, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY },
        base,
        repoFile: `${REPO_WITHOUT_KEY.replace("https://", "http://")}gpgkey=${base}/redhat/RPM-GPG-KEY-drivesrvr\n`
      })
      yield* refresh
      expect(yield* host.commands).toEqual(ZYPPER_REFRESH_WITH_ROTATED_KEY)
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(ROTATED_KEY)
    }))

  const refusals: ReadonlyArray<{ readonly what: string; readonly options: Parameters<typeof rotatedHost>[0]; readonly why: string }> = [
    {
      what: "the repository serves the key imported before again",
      options: { signedWith: ROTATED_KEY, served: { "redhat/RPM-GPG-KEY-drivesrvr": REPOSITORY_KEY } },
      why: `the repository still serves the key ${REPOSITORY_KEY_FINGERPRINT}`
    },
    {
      what: "the key fetched again is an HTML page",
      options: { signedWith: ROTATED_KEY, served: { "redhat/RPM-GPG-KEY-drivesrvr": "<html>maintenance</html>" } },
      why: `fetching the key again: ${KEY_URL}: not an ASCII-armoured OpenPGP public key`
    },
    {
      what: "the key is gone from the repository",
      options: { signedWith: ROTATED_KEY, served: {} },
      why: `fetching the key again: ${KEY_URL}: HTTP status 404`
    },
    {
      what: "a plain-http gpgkey= with an https -r",
      options: {
        signedWith: ROTATED_KEY,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY },
        repoFile: `${REPO_WITHOUT_KEY}gpgkey=http://agentrepo.example.test/redhat/RPM-GPG-KEY-drivesrvr\n`
      },
      why:
        `the key http://agentrepo.example.test/redhat/RPM-GPG-KEY-drivesrvr is not fetched again over plain http: the repository policy allows http only when -r is http itself, and -r is ${BASE}`
    },
    {
      what: "a repo file that names no gpgkey",
      options: { signedWith: ROTATED_KEY, served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY }, repoFile: REPO_WITHOUT_KEY },
      why: `${REPO_FILE} names no gpgkey`
    }
  ]

  it.scoped.each(refusals)("$what: zypper's line and why, one line, nothing written nor imported, no retry", ({ options, why }) =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost(options)
      const error = yield* Effect.flip(refresh)
      expect(error.message).toBe(`zypper refresh failed: ${ROTATED_LINE} (${why})`)
      expect(error.message).not.toContain("\n")
      expect(yield* host.commands).toEqual([ZYPPER_REFRESH])
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(REPOSITORY_KEY)
      expect(yield* listHostDirectory(root, STATE_DIR)).toEqual(["drivesrvr-signing-key.asc"])
      expect(yield* host.rpmImportedKeys).toEqual([])
      expect(logs).toEqual([])
    }))

  it.scoped("still refused with the key fetched again: one retry, then zypper's line", () =>
    Effect.gen(function*() {
      const other = fixtureKey("nistp256")
      const { host, refresh, root } = yield* rotatedHost({
        signedWith: other,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY }
      })
      const error = yield* Effect.flip(refresh)
      const otherFingerprint = Either.getOrThrow(parseArmoredPublicKey(other)).fingerprint
      expect(error.message).toBe(`zypper refresh failed: ${unknownKeyLine(otherFingerprint)} (also with the key fetched again)`)
      expect(yield* host.commands).toEqual(ZYPPER_REFRESH_WITH_ROTATED_KEY)
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(ROTATED_KEY)
      expect((yield* host.state).refreshed).toBe(false)
    }))

  it.scoped("another refresh failure (an unreachable server): reported as is, no key fetched", () =>
    Effect.gen(function*() {
      const { host, logs, refresh, root } = yield* rotatedHost({
        signedWith: ROTATED_KEY,
        served: { "redhat/RPM-GPG-KEY-drivesrvr": ROTATED_KEY },
        refreshFailure: "Could not refresh the repositories because of errors."
      })
      expect((yield* Effect.flip(refresh)).message).toBe("zypper refresh failed: Problem retrieving files from 'Cloud Backup agent'.")
      expect(yield* host.commands).toEqual([ZYPPER_REFRESH])
      expect(yield* readHostFile(root, ZYPPER_KEY_FILE)).toBe(REPOSITORY_KEY)
      expect(logs).toEqual([])
    }))
})

describe("ZypperPackageManager: transactions", () => {
  const upgradable = { installed: OLD, offered: [OLD, NEW], refreshed: true }

  it.scoped("download fetches into zypper's cache; install upgrades, and zypper empties its cache", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost(upgradable)
      yield* packages.download
      expect((yield* host.state).downloaded).toBe(NEW)
      expect(yield* listHostDirectory(root, FakeShell.ZYPPER_CACHE)).toEqual([rpmFile(NEW)])
      yield* packages.install
      expect((yield* host.state).installed?.version).toBe(NEW)
      expect(yield* listHostDirectory(root, FakeShell.ZYPPER_CACHE)).toEqual([])
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([ZYPPER_DOWNLOAD, ZYPPER_INSTALL])
      expect(transcript.every((entry) => JSON.stringify(entry.env) === JSON.stringify(ZYPPER_ENV))).toBe(true)
      expect(transcript[0]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(10)))
      expect(transcript[1]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(30)))
    }))

  it.scoped("with keeppackages=1 the committed package stays in the cache", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost(upgradable)
      yield* writeHostFile(root, REPO_FILE, `${REPO}keeppackages=1\n`)
      yield* packages.download
      yield* packages.install
      expect(yield* listHostDirectory(root, FakeShell.ZYPPER_CACHE)).toEqual([rpmFile(NEW)])
    }))

  it.scoped("a missing agent is installed by the same command", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ offered: [NEW], refreshed: true })
      yield* packages.install
      expect(yield* host.commands).toEqual([ZYPPER_INSTALL])
      expect((yield* host.state).installed?.version).toBe(NEW)
    }))

  it.scoped("a failed commit (exit 8) is the tool's line; the old version stays", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ ...upgradable, failures: { install: "Error: Subprocess failed." } })
      const error = yield* Effect.flip(packages.install)
      expect(error.message).toBe("zypper install failed: Error: Subprocess failed.")
      expect((yield* host.transcript).at(-1)!.exit).toBe(8)
      expect((yield* host.state).installed?.version).toBe(OLD)
    }))

  it.scoped("a failing %pre (exit 8) leaves the old version installed", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost(upgradable)
      yield* host.update((s) => ({ ...s, brokenReleases: { [NEW]: "preinst" } }))
      const error = yield* Effect.flip(packages.install)
      expect(error.message).toContain(`%prein(driveclient-${NEW}.x86_64) scriptlet failed`)
      expect((yield* host.transcript).at(-1)!.exit).toBe(8)
      expect(yield* packages.installedState).toEqual(Option.some({ version: OLD, unfinished: false }))
    }))

  it.scoped("a failing %post (exit 107): the new version is installed, and the upgrade fails for a rollback", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost(upgradable)
      yield* host.update((s) => ({ ...s, brokenReleases: { [NEW]: "postinst" } }))
      const error = yield* Effect.flip(packages.install)
      expect(error.message).toBe(`zypper install failed: warning: %post(driveclient-${NEW}.x86_64) scriptlet failed, exit status 1`)
      expect((yield* host.transcript).at(-1)!.exit).toBe(107)
      expect(yield* packages.installedState).toEqual(Option.some({ version: NEW, unfinished: false }))
    }))

  it.scoped("exit 106 (a repository skipped) is a success", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost(upgradable, { shell: zypperExits(106, "Warning: Skipping repository.\n") })
      yield* packages.install
      expect((yield* host.state).installed?.version).toBe(NEW)
    }))

  it.scoped("a locked agent (exit 4) cannot be upgraded", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ ...upgradable, held: true })
      expect((yield* Effect.flip(packages.download)).message).toContain("zypper install --download-only failed: Choose from above solutions")
    }))
})

describe("ZypperPackageManager.installVersion", () => {
  const offered = [OLD, NEW]

  it.scoped("downgrades with --oldpackage: argv, environment, timeout", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: NEW, offered, refreshed: true })
      yield* packages.installVersion(OLD)
      expect((yield* host.state).installed?.version).toBe(OLD)
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([RPM_QUERY, zypperInstallVersion(OLD)])
      expect(transcript[1]!.env).toEqual(ZYPPER_ENV)
      expect(transcript[1]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(30)))
    }))

  it.scoped("a missing agent is installed at that version", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ offered, refreshed: true })
      yield* packages.installVersion(OLD)
      expect(yield* host.commands).toEqual([RPM_QUERY, zypperInstallVersion(OLD)])
      expect((yield* host.state).installed?.version).toBe(OLD)
    }))

  it.scoped("the version already installed needs no transaction", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD, offered, refreshed: true })
      yield* packages.installVersion(OLD)
      expect(yield* host.commands).toEqual([RPM_QUERY])
    }))

  it.scoped("exit 107 is accepted: the package is in place", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: NEW, offered, refreshed: true }, { shell: zypperExits(107, SCRIPTLET_FAILED) })
      yield* packages.installVersion(OLD)
      expect((yield* host.state).installed?.version).toBe(OLD)
    }))

  it.scoped("a version not offered (exit 104) is zypper's line", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: NEW, offered, refreshed: true })
      const error = yield* Effect.flip(packages.installVersion("1.0.0-1.el9"))
      expect(error.message).toBe(
        "zypper install --oldpackage driveclient-1.0.0-1.el9 failed: No provider of 'driveclient-1.0.0-1.el9' found."
      )
      expect((yield* host.transcript).at(-1)!.exit).toBe(104)
      expect((yield* host.state).installed?.version).toBe(NEW)
    }))

  it.scoped("a failed commit (exit 8) is a PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ installed: NEW, offered, refreshed: true, failures: { rollback: "Error: Subprocess failed." } })
      expect(yield* Effect.flip(packages.installVersion(OLD))).toMatchObject({
        _tag: "PackageManagerError",
        detail: "Error: Subprocess failed."
      })
    }))

  it.scoped.each(["1.1.0", "", "1.1.0-1.el9 --no-gpg-checks", "-1.el9"])("%j is not a version-release: refused, nothing run", (version) =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: NEW, offered, refreshed: true })
      expect((yield* Effect.flip(packages.installVersion(version))).message).toContain("is not a package version")
      expect(yield* host.commands).toEqual([])
    }))
})

describe("ZypperPackageManager: packages for a rollback", () => {
  it.scoped("securePackage: a kept copy first, nothing run", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: OLD, offered: [OLD, NEW], refreshed: true })
      yield* writeHostFile(root, `${KEPT}/${rpmFile(OLD)}`, "kept\n")
      expect(yield* packages.securePackage(OLD)).toEqual(Option.some({ source: "kept", file: `${KEPT}/${rpmFile(OLD)}` }))
      expect(yield* host.commands).toEqual([])
    }))

  it.scoped("securePackage: else downloaded with --force into zypper's cache, and a copy kept", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: OLD, offered: [OLD, NEW], refreshed: true })
      expect(yield* packages.securePackage(OLD)).toEqual(Option.some({ source: "repository", file: `${KEPT}/${rpmFile(OLD)}` }))
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([zypperDownloadVersion(OLD)])
      expect(transcript[0]!.env).toEqual(ZYPPER_ENV)
      expect(yield* readHostFile(root, `${KEPT}/${rpmFile(OLD)}`)).toContain(`driveclient ${OLD}`)
    }))

  it.scoped("securePackage: a version the repository no longer offers, from the cache (one level down too)", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost({ installed: OLD, offered: [NEW], refreshed: true })
      yield* writeHostFile(root, `${FakeShell.ZYPPER_CACHE}/x86_64/${rpmFile(OLD)}`, "cached\n")
      expect(yield* packages.securePackage(OLD)).toEqual(Option.some({ source: "cache", file: `${KEPT}/${rpmFile(OLD)}` }))
      expect(yield* readHostFile(root, `${KEPT}/${rpmFile(OLD)}`)).toBe("cached\n")
    }))

  it.scoped("securePackage: one already in zypper's cache (keeppackages) is taken as the cache's, with no download", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: OLD, offered: [OLD, NEW], refreshed: true })
      yield* writeHostFile(root, `${FakeShell.ZYPPER_CACHE}/${rpmFile(OLD)}`, "cached\n")
      expect(yield* packages.securePackage(OLD)).toEqual(Option.some({ source: "cache", file: `${KEPT}/${rpmFile(OLD)}` }))
      expect(yield* host.commands).toEqual([])
    }))

  it.scoped("securePackage: none anywhere is none", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost({ installed: OLD, offered: [NEW], refreshed: true })
      expect(yield* packages.securePackage(OLD)).toEqual(Option.none())
      expect(yield* hostFileExists(root, KEPT)).toBe(false)
    }))

  it.scoped("keepPackages: copies from zypper's cache, drops other versions' kept copies", () =>
    Effect.gen(function*() {
      const { root, packages } = yield* withHost()
      yield* writeHostFile(root, `${FakeShell.ZYPPER_CACHE}/${rpmFile(NEW)}`, "new\n")
      yield* writeHostFile(root, `${KEPT}/${rpmFile(OLD)}`, "old\n")
      yield* writeHostFile(root, `${KEPT}/${rpmFile("1.0.0-1.el9")}`, "older\n")
      yield* packages.keepPackages([NEW, OLD])
      expect(yield* listHostDirectory(root, KEPT)).toEqual([rpmFile(OLD), rpmFile(NEW)].sort())
      expect(yield* readHostFile(root, `${KEPT}/${rpmFile(NEW)}`)).toBe("new\n")
    }))

  const keptOld = { source: "kept" as const, file: `${KEPT}/${rpmFile(OLD)}` }

  it.scoped("restore: installs the kept file with --oldpackage and checks it with rpm -q", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: NEW, offered: [NEW], refreshed: true })
      yield* writeHostFile(root, keptOld.file, "kept\n")
      yield* packages.restore(keptOld, OLD)
      expect(yield* host.commands).toEqual([RPM_QUERY, zypperInstallFile(keptOld.file), RPM_QUERY])
      expect((yield* host.state).installed?.version).toBe(OLD)
      expect(yield* hostFileExists(root, keptOld.file)).toBe(true)
    }))

  it.scoped("restore: the duplicate an interrupted upgrade left is removed first", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: OLD, duplicate: NEW, offered: [NEW], refreshed: true })
      yield* writeHostFile(root, keptOld.file, "kept\n")
      yield* packages.restore(keptOld, OLD)
      expect(yield* host.commands).toEqual([
        RPM_QUERY,
        RPM_QUERY,
        zypperRemoveVersion(OLD),
        RPM_QUERY,
        RPM_QUERY,
        zypperInstallFile(keptOld.file),
        RPM_QUERY
      ])
      expect(yield* host.state).toMatchObject({ installed: { version: OLD }, duplicate: undefined })
    }))

  it.scoped("restore: the version already installed alone needs no transaction", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD })
      yield* packages.restore(keptOld, OLD)
      expect(yield* host.commands).toEqual([RPM_QUERY, RPM_QUERY])
    }))

  it.scoped("restore: exit 107 is accepted once rpm -q shows the version", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: NEW }, { shell: zypperExits(107, SCRIPTLET_FAILED) })
      yield* writeHostFile(root, keptOld.file, "kept\n")
      yield* packages.restore(keptOld, OLD)
      expect((yield* host.state).installed?.version).toBe(OLD)
    }))

  it.scoped("restore: a failed commit, or a version rpm -q does not show afterwards, fails", () =>
    Effect.gen(function*() {
      const failing = yield* withHost({ installed: NEW, failures: { rollback: "Error: Subprocess failed." } })
      yield* writeHostFile(failing.root, keptOld.file, "kept\n")
      expect((yield* Effect.flip(failing.packages.restore(keptOld, OLD))).message).toBe(
        `zypper install --oldpackage ${keptOld.file} failed: Error: Subprocess failed.`
      )
      const idle = yield* withHost({ installed: NEW }, { shell: zypperDoesNothing })
      expect((yield* Effect.flip(idle.packages.restore(keptOld, OLD))).message).toBe(
        `zypper install --oldpackage ${keptOld.file} failed: installed driveclient is ${NEW}, not ${OLD}`
      )
    }))
})

describe("ZypperPackageManager.isHeld", () => {
  it.scoped.each([false, true])("the locks XML (held: %s)", (held) =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD, held })
      expect(yield* packages.isHeld).toBe(held)
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([ZYPPER_LOCKS])
      expect(transcript[0]!.env).toEqual(ZYPPER_ENV)
    }))
})

const writePid = (root: string, pid: number) => {
  fs.mkdirSync(path.join(root, "run"), { recursive: true })
  fs.writeFileSync(path.join(root, "run/zypp.pid"), String(pid))
}

describe("ZypperPackageManager.repair", () => {
  it.scoped("one installed version, or none: nothing to repair", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD })
      expect(yield* packages.repair).toEqual(Option.none())
      expect(yield* host.commands).toEqual([RPM_QUERY])
      const missing = yield* withHost()
      expect(yield* missing.packages.repair).toEqual(Option.none())
    }))

  it.scoped("two installed versions: the older one is removed", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD, duplicate: NEW })
      expect(yield* packages.repair).toEqual(Option.some(zypperRemoveVersion(OLD).join(" ")))
      expect(yield* host.state).toMatchObject({ installed: { version: NEW }, duplicate: undefined })
      const transcript = yield* host.transcript
      expect(transcript.map((entry) => entry.argv)).toEqual([RPM_QUERY, zypperRemoveVersion(OLD), RPM_QUERY])
      expect(transcript[1]!.env).toEqual(ZYPPER_ENV)
      expect(transcript[1]!.timeoutMillis).toBe(Duration.toMillis(Duration.minutes(30)))
    }))

  it.scoped("a failing removal is a one-line PackageManagerError", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ installed: OLD, duplicate: NEW, failures: { repair: "Error: Subprocess failed." } })
      expect((yield* Effect.flip(packages.repair)).message).toBe(`${zypperRemoveVersion(OLD).join(" ")} failed: Error: Subprocess failed.`)
    }))

  it.scoped("both versions still there after the removal: an error saying so", () =>
    Effect.gen(function*() {
      const { packages } = yield* withHost({ installed: OLD, duplicate: NEW }, { shell: zypperDoesNothing })
      expect((yield* Effect.flip(packages.repair)).message).toContain(`2 versions of driveclient are still installed (${OLD}, ${NEW})`)
    }))

  it.scoped("waits while a live process holds /run/zypp.pid; a dead holder's pid is not waited for", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ installed: OLD, duplicate: NEW })
      writePid(root, process.pid)
      const fiber = yield* Effect.fork(packages.repair)
      yield* TestClock.adjust(Duration.seconds(30))
      expect(fiber.unsafePoll()).toBeNull()
      expect(yield* host.commands).toEqual([])
      // A zypper that was killed leaves its pid behind.
      writePid(root, deadPid())
      for (let i = 0; i < 100 && fiber.unsafePoll() === null; i++) {
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      expect(yield* Fiber.join(fiber)).toEqual(Option.some(zypperRemoveVersion(OLD).join(" ")))
    }))
})

describe("ZypperPackageManager: the zypp lock", () => {
  const run = (root: string, host: FakeShell.FakeHostService, argv: Argv) =>
    Effect.gen(function*() {
      writePid(root, process.pid)
      const fiber = yield* Effect.fork(host.shell.run(argv, { env: ZYPPER_ENV }))
      yield* host.whenStarted(argv)
      return fiber
    })

  it.scoped("without ZYPP_LOCK_TIMEOUT, zypper fails at once with exit 7", () =>
    Effect.gen(function*() {
      const { root, host } = yield* withHost({ offered: [NEW] })
      writePid(root, process.pid)
      const result = yield* host.shell.run(ZYPPER_REFRESH)
      expect(result.exitCode).toBe(7)
      expect(result.stderr).toMatch(new RegExp(`^System management is locked by the application with pid ${process.pid} \\(`))
    }))

  it.scoped("with the layer's ZYPP_LOCK_TIMEOUT=300 it waits: still held then, exit 7; released meanwhile, it runs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ offered: [NEW] })
      const held = yield* run(root, host, ZYPPER_REFRESH)
      yield* TestClock.adjust(Duration.seconds(300))
      expect((yield* Fiber.join(held)).exitCode).toBe(7)
      const released = yield* run(root, host, ZYPPER_REFRESH)
      writePid(root, 0)
      yield* TestClock.adjust(Duration.seconds(300))
      expect((yield* Fiber.join(released)).exitCode).toBe(0)
      expect((yield* host.state).refreshed).toBe(true)
      // The layer's own run passes the variable.
      yield* packages.refresh
      expect((yield* host.transcript).at(-1)!.env["ZYPP_LOCK_TIMEOUT"]).toBe("300")
    }))
})

describe("ZypperPackageManager: a transaction waits for the zypp lock before it starts", () => {
  it.scoped("interruptibly, even inside an uninterruptible transaction: a stop ends the wait and no zypper runs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ offered: [NEW], refreshed: true })
      writePid(root, process.pid)
      const fiber = yield* Effect.fork(Effect.uninterruptible(packages.install))
      yield* TestClock.adjust(Duration.seconds(10))
      expect(fiber.unsafePoll(), "still waiting").toBeNull()
      yield* Fiber.interrupt(fiber)
      expect((yield* host.commands).filter((argv) => argv[0] === "zypper" && argv.includes("install"))).toEqual([])
      expect((yield* host.state).installed).toBeUndefined()
    }))

  it.scoped("once the lock is free, the transaction runs", () =>
    Effect.gen(function*() {
      const { root, host, packages } = yield* withHost({ offered: [NEW], refreshed: true })
      writePid(root, process.pid)
      const fiber = yield* Effect.fork(packages.install)
      yield* TestClock.adjust(Duration.seconds(10))
      expect(fiber.unsafePoll(), "still waiting").toBeNull()
      writePid(root, 0)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(fiber)
      expect((yield* host.state).installed?.version).toBe(NEW)
    }))
})

describe("ZypperPackageManager: every command's environment", () => {
  it.scoped("LC_ALL=C and ZYPP_LOCK_TIMEOUT=300, for zypper and rpm alike", () =>
    Effect.gen(function*() {
      const { host, packages } = yield* withHost({ installed: OLD, duplicate: NEW, offered: [OLD, NEW] }, { configured: false })
      yield* packages.configureRepository
      yield* packages.repair
      yield* packages.refresh
      yield* packages.candidateVersion
      yield* packages.isHeld
      yield* packages.securePackage(OLD)
      yield* packages.installVersion(OLD)
      const transcript = yield* host.transcript
      expect(new Set(transcript.map((entry) => entry.argv[0]))).toEqual(new Set(["rpm", "zypper"]))
      for (const entry of transcript) expect({ argv: entry.argv, env: entry.env }).toEqual({ argv: entry.argv, env: ZYPPER_ENV })
    }))
})
