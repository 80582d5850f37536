/**
 * A Shell for tests that runs nothing: it answers from a small in-memory host
 * (the agent package, what its repository offers, whether the agent runs) the
 * way dpkg-query, dpkg, apt-get, apt-cache, apt-mark, rpm, dnf, yum,
 * package-cleanup, yum-complete-transaction, systemctl, service and the init
 * script would — exit statuses and output formats — and records every call.
 * A command it does not know exits 127, so a test cannot pass by accident.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as fs from "node:fs"
import * as path from "node:path"
import { versionOfFile } from "../../src/domain/PackageFiles.js"
import { compareUpstream, upstreamOf } from "../../src/domain/Version.js"
import { type CommandResult, type RunOptions, Shell, ShellError, type ShellService } from "../../src/services/Shell.js"

export type DpkgState =
  | "installed"
  | "config-files"
  | "not-installed"
  | "half-installed"
  | "unpacked"
  | "half-configured"
  | "triggers-awaited"
  | "triggers-pending"

/** Each failure is the last line of the failing command's error output. */
export interface FakeFailures {
  readonly refresh?: string
  readonly download?: string
  readonly install?: string
  /** Installing one exact version (the rollback): apt-get install driveclient=V, dnf/yum downgrade. */
  readonly rollback?: string
  /** `dpkg --configure -a`. */
  readonly configure?: string
  /** apt-get install -f, dnf remove --duplicates, package-cleanup, yum-complete-transaction. */
  readonly repair?: string
  readonly stop?: string
  readonly start?: string
  /** The agent's service fails to start while this version is installed (a bad release). */
  readonly startOf?: string
  /**
   * The upgrade's postinst fails: apt leaves the new version half-configured, rpm leaves both
   * versions installed; the line is the package manager's error.
   */
  readonly postinst?: string
}

export interface FakeHostState {
  readonly installed: { readonly version: string; readonly dpkgState: DpkgState } | undefined
  /** rpm: a second installed version, as an interrupted upgrade leaves it. */
  readonly duplicate: string | undefined
  /** `apt-mark hold driveclient`. */
  readonly held: boolean
  /** What `systemctl is-enabled` prints for the agent's unit: `enabled`, `disabled`, `masked`, `static`... */
  readonly unitFileState: string
  /** What `dpkg --audit` reports about other packages; `dpkg --configure -a` clears it. */
  readonly dpkgAudit: string
  /** Package versions the agent repository offers (`1.2.0-1`, `1.2.0-1.el9`). */
  readonly offered: ReadonlyArray<string>
  /** Whether the package manager has fetched the repository's metadata: only then does it see `offered`. */
  readonly refreshed: boolean
  /** yum: `clean expire-cache` was run, so the next `makecache` fetches. */
  readonly expired: boolean
  readonly running: boolean
  /** The version waiting in the package cache. */
  readonly downloaded: string | undefined
  readonly failures: FakeFailures
  /** What an init script's `status` exits with, whatever the agent does; by default 0 or 3. */
  readonly lsbStatus: number | undefined
  readonly downloadMillis: number
  readonly transactionMillis: number
}

export interface FakeHostInit {
  /** The installed agent's package version; none when it is not installed. */
  readonly installed?: string | undefined
  /** dpkg's state of the installed agent; `installed` by default. */
  readonly dpkgState?: DpkgState
  /** rpm: a second installed version (an interrupted upgrade). */
  readonly duplicate?: string
  readonly held?: boolean
  /** `enabled` by default. */
  readonly unitFileState?: string
  readonly dpkgAudit?: string
  readonly offered?: ReadonlyArray<string>
  readonly refreshed?: boolean
  readonly running?: boolean
  readonly failures?: FakeFailures
  readonly lsbStatus?: number
  readonly downloadTime?: Duration.DurationInput
  readonly transactionTime?: Duration.DurationInput
  /**
   * The host's root directory: when set, downloads leave package files in the package
   * manager's cache under it, and packages are installed from files there.
   */
  readonly root?: string
}

export interface TranscriptEntry {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly output: "capture" | "discard"
  readonly timeoutMillis: number | undefined
  /** Clock time (TestClock in tests) when the command started. */
  readonly atMillis: number
  /** The exit status, or the ShellError reason. */
  readonly exit: number | ShellError["reason"]
}

export interface FakeHostService {
  readonly shell: ShellService
  readonly state: Effect.Effect<FakeHostState>
  readonly update: (f: (state: FakeHostState) => FakeHostState) => Effect.Effect<void>
  readonly transcript: Effect.Effect<ReadonlyArray<TranscriptEntry>>
  /** The argv of every command run so far, in order. */
  readonly commands: Effect.Effect<ReadonlyArray<ReadonlyArray<string>>>
  /**
   * Returns once a command with exactly this argv has started: lets a test move
   * the TestClock only when the command is really waiting on it.
   */
  readonly whenStarted: (argv: ReadonlyArray<string>) => Effect.Effect<void>
}

export class FakeHost extends Context.Tag("test/FakeHost")<FakeHost, FakeHostService>() {}

const PACKAGE = "driveclient"
const ARCH = "x86_64"

const compareVersions = (a: string, b: string): number =>
  compareUpstream(upstreamOf(a), upstreamOf(b)) || a.localeCompare(b, "en", { numeric: true })

const newest = (versions: ReadonlyArray<string>): string | undefined => [...versions].sort(compareVersions).at(-1)

const result = (exitCode: number, stdout = "", stderr = ""): CommandResult => ({ exitCode, stdout, stderr })

const sameArgs = (args: ReadonlyArray<string>, expected: ReadonlyArray<string>): boolean =>
  args.length === expected.length && args.every((arg, i) => arg === expected[i])

/** Whether the agent's files are on the host: for rpm, systemd and init scripts. */
const agentPresent = (state: FakeHostState): boolean =>
  state.installed !== undefined && !["config-files", "not-installed"].includes(state.installed.dpkgState)

const visibleOffers = (state: FakeHostState): ReadonlyArray<string> => (state.refreshed ? state.offered : [])

/** apt's candidate: the newest version it knows of, the installed one included (apt does not downgrade). */
const aptCandidate = (state: FakeHostState): string | undefined =>
  newest([...visibleOffers(state), ...(agentPresent(state) ? [state.installed!.version] : [])])

/** dpkg states an interrupted dpkg run leaves behind. */
const UNFINISHED = new Set<DpkgState>(["half-installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"])

/** What `dpkg --audit` says about a package in each unfinished state (dpkg's own wording, abridged). */
const AUDIT_TEXT: Partial<Record<DpkgState, string>> = {
  "half-installed": "The following packages are only half installed, due to problems during\ninstallation.  The installation can probably be completed by retrying it;\nthe packages can be removed using dselect or dpkg --remove:\n",
  unpacked: "The following packages have been unpacked but not yet configured.\nThey must be configured using dpkg --configure or the configure\nmenu option in dselect for them to work:\n",
  "half-configured": "The following packages are only half configured, probably due to problems\nconfiguring them the first time.  The configuration should be retried using\ndpkg --configure <package> or the configure menu option in dselect:\n",
  "triggers-awaited": "The following packages are awaiting processing of triggers that they\nhave activated in other packages.  This processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n",
  "triggers-pending": "The following packages have been triggered, but the trigger processing\nhas not yet been done.  Trigger processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n"
}

/** The agent's main pid that `systemctl show --property=MainPID` reports while it runs. */
export const AGENT_MAIN_PID = 4242

/** `systemctl is-enabled` exits 0 for these unit file states, 1 for any other. */
const ENABLED_EXIT_0 = new Set(["enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "transient"])

/** Where dnf (and here also yum) keeps the agent repository's packages. */
export const RPM_CACHE = "/var/cache/dnf/drivesrvr-1f2e3d4c5b6a7980/packages"
export const APT_CACHE = "/var/cache/apt/archives"

export const make = (init: FakeHostInit = {}): Effect.Effect<FakeHostService> =>
  Effect.gen(function*() {
    /** Leaves a package file of `version` in `dir` (a host path) under the root, if there is one. */
    const leavePackage = (dir: string, version: string, format: "deb" | "rpm") =>
      Effect.sync(() => {
        if (init.root === undefined) return
        const name = format === "deb" ? `${PACKAGE}_${version.replace(/:/g, "%3a")}_amd64.deb` : `${PACKAGE}-${version.replace(/^\d+:/, "")}.${ARCH}.rpm`
        fs.mkdirSync(path.join(init.root, dir), { recursive: true })
        fs.writeFileSync(path.join(init.root, dir, name), `fake ${format} of ${PACKAGE} ${version}\n`)
      })
    /** The version a package file under the root holds; none when it is not there. */
    const packageFile = (hostPath: string, format: "deb" | "rpm"): string | undefined =>
      init.root !== undefined && fs.existsSync(path.join(init.root, hostPath))
        ? versionOfFile(format, path.basename(hostPath))
        : undefined

    const hostState = yield* Ref.make<FakeHostState>({
      installed: init.installed === undefined
        ? undefined
        : { version: init.installed, dpkgState: init.dpkgState ?? "installed" },
      duplicate: init.duplicate,
      held: init.held ?? false,
      unitFileState: init.unitFileState ?? "enabled",
      dpkgAudit: init.dpkgAudit ?? "",
      offered: init.offered ?? [],
      refreshed: init.refreshed ?? false,
      expired: false,
      running: init.running ?? false,
      downloaded: undefined,
      failures: init.failures ?? {},
      lsbStatus: init.lsbStatus,
      downloadMillis: Duration.toMillis(init.downloadTime ?? 0),
      transactionMillis: Duration.toMillis(init.transactionTime ?? 0)
    })
    const transcript = yield* Ref.make<ReadonlyArray<TranscriptEntry>>([])
    const started = yield* Ref.make<ReadonlyArray<string>>([])
    const waiters = yield* Ref.make<ReadonlyArray<readonly [string, Deferred.Deferred<void>]>>([])
    const argvKey = (argv: ReadonlyArray<string>) => JSON.stringify(argv)

    const markStarted = (argv: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const key = argvKey(argv)
        yield* Ref.update(started, (keys) => [...keys, key])
        const due = yield* Ref.modify(waiters, (all) => [
          all.filter(([waited]) => waited === key),
          all.filter(([waited]) => waited !== key)
        ])
        yield* Effect.forEach(due, ([, deferred]) => Deferred.succeed(deferred, undefined), { discard: true })
      })

    const whenStarted = (argv: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const key = argvKey(argv)
        if ((yield* Ref.get(started)).includes(key)) return
        const deferred = yield* Deferred.make<void>()
        yield* Ref.update(waiters, (all) => [...all, [key, deferred] as const])
        // It may have started between the check and the registration.
        if ((yield* Ref.get(started)).includes(key)) return
        yield* Deferred.await(deferred)
      })

    const get = Ref.get(hostState)
    const set = (f: (state: FakeHostState) => FakeHostState) => Ref.update(hostState, f)

    /** Takes `millis` of Clock time, like a real transaction; past the Shell timeout it is killed. */
    const takeTime = (argv: ReadonlyArray<string>, millis: number, options: RunOptions) =>
      Effect.gen(function*() {
        if (millis === 0) return
        const timeout = options.timeout === undefined ? undefined : Duration.toMillis(options.timeout)
        if (timeout !== undefined && millis > timeout) {
          yield* Effect.sleep(timeout)
          return yield* new ShellError({ argv, reason: "TimedOut", detail: `still running after ${timeout} ms` })
        }
        yield* Effect.sleep(millis)
      })

    const notUnderstood = (argv: ReadonlyArray<string>) =>
      Effect.succeed(result(127, "", `fake shell: no such command: ${argv.join(" ")}\n`))

    const dpkgQuery = (argv: ReadonlyArray<string>) =>
      Effect.map(get, (state) => {
        if (!sameArgs(argv.slice(1), ["-W", "-f=${db:Status-Status} ${Version}\\n", PACKAGE])) {
          return result(2, "", `dpkg-query: fake does not support ${argv.join(" ")}\n`)
        }
        if (state.installed === undefined) return result(1, "", `dpkg-query: no packages found matching ${PACKAGE}\n`)
        const { dpkgState, version } = state.installed
        return result(0, `${dpkgState} ${dpkgState === "not-installed" ? "" : version}\n`)
      })

    const aptCachePolicy = (argv: ReadonlyArray<string>) =>
      Effect.map(get, (state) => {
        if (!sameArgs(argv.slice(1), ["policy", PACKAGE])) return result(100, "", "E: fake apt-cache: unsupported\n")
        const installed = agentPresent(state) ? state.installed!.version : undefined
        const candidate = aptCandidate(state)
        // apt-cache prints nothing at all for a package it has never heard of.
        if (candidate === undefined && state.installed === undefined) return result(0)
        const table = [
          ...visibleOffers(state).map((v) => ` ${v === installed ? "***" : "   "} ${v} 500\n        500 https://agentrepo.example/debian serveragent/main amd64 Packages`),
          ...(installed !== undefined && !visibleOffers(state).includes(installed) ? [` *** ${installed} 100`] : [])
        ]
        return result(
          0,
          `${PACKAGE}:\n  Installed: ${installed ?? "(none)"}\n  Candidate: ${candidate ?? "(none)"}\n  Version table:\n${
            table.map((line) => `${line}\n`).join("")
          }`
        )
      })

    const APT_UPDATE_RESTRICTED = ["-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"]
    const APT_DOWNLOAD = ["install", "-y", "-d", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", PACKAGE]
    const APT_INSTALL = [
      "install",
      "-y",
      "--no-install-recommends",
      "-o",
      "DPkg::Lock::Timeout=300",
      "-o",
      "Dpkg::Options::=--force-confdef",
      "-o",
      "Dpkg::Options::=--force-confold",
      PACKAGE
    ]

    const APT_TRANSACTION_OPTIONS = APT_INSTALL.slice(3, 9)
    const APT_FIX_BROKEN = ["install", "-y", "-f", "--no-install-recommends", ...APT_TRANSACTION_OPTIONS]
    const APT_INSTALL_VERSION_PREFIX = ["install", "-y", "--no-install-recommends", "--allow-downgrades", ...APT_TRANSACTION_OPTIONS]
    const APT_REINSTALL_VERSION_PREFIX = [
      "install",
      "-y",
      "--reinstall",
      "--allow-downgrades",
      "--no-install-recommends",
      ...APT_TRANSACTION_OPTIONS
    ]
    const APT_DOWNLOAD_VERSION_PREFIX = [
      "install",
      "-y",
      "-d",
      "--reinstall",
      "--allow-downgrades",
      "--no-install-recommends",
      "-o",
      "DPkg::Lock::Timeout=300"
    ]
    const heldError = result(
      100,
      `The following held packages will be changed:\n  ${PACKAGE}\n`,
      "E: Held packages were changed and -y was used without --allow-change-held-packages.\n"
    )

    /** `apt-get install ... driveclient=V`: only a version apt knows of, downgrading only when allowed. */
    const aptInstallVersion = (argv: ReadonlyArray<string>, version: string, options: RunOptions, fromFile = false) =>
      Effect.gen(function*() {
        const state = yield* get
        const installed = agentPresent(state) ? state.installed!.version : undefined
        if (!fromFile && !visibleOffers(state).includes(version) && installed !== version) {
          return result(100, "Reading package lists...\n", `E: Version '${version}' for '${PACKAGE}' was not found\n`)
        }
        if (state.installed?.dpkgState === "installed" && installed === version) {
          return result(0, `${PACKAGE} is already the newest version (${version}).\n0 upgraded, 0 newly installed.\n`)
        }
        if (state.held && installed !== undefined) return heldError
        yield* takeTime(argv, state.transactionMillis, options)
        if (state.failures.rollback !== undefined) {
          return result(100, `Unpacking ${PACKAGE} (${version}) ...\n`, `${state.failures.rollback}\n`)
        }
        yield* set((s) => ({ ...s, installed: { version, dpkgState: "installed" }, downloaded: undefined }))
        const downgrade = installed !== undefined && compareVersions(version, installed) < 0
        return result(
          0,
          `${downgrade ? "The following packages will be DOWNGRADED:\n  driveclient\n" : ""}Unpacking ${PACKAGE} (${version}) over (${installed ?? "none"}) ...\nSetting up ${PACKAGE} (${version}) ...\n`
        )
      })

    /** `apt-get install -f`: finishes what an interrupted dpkg left, the agent included. */
    const aptFixBroken = (argv: ReadonlyArray<string>, options: RunOptions) =>
      Effect.gen(function*() {
        const state = yield* get
        if (state.failures.repair !== undefined) return result(100, "Correcting dependencies... Done\n", `${state.failures.repair}\n`)
        yield* takeTime(argv, state.transactionMillis, options)
        // Like real apt: it configures what was unpacked, but cannot mend a package killed in its preinst.
        const unfinished = state.installed !== undefined && UNFINISHED.has(state.installed.dpkgState) &&
          state.installed.dpkgState !== "half-installed"
        yield* set((s) => ({
          ...s,
          dpkgAudit: "",
          installed: unfinished ? { version: s.installed!.version, dpkgState: "installed" } : s.installed
        }))
        return result(
          0,
          unfinished
            ? `Correcting dependencies... Done\nSetting up ${PACKAGE} (${state.installed!.version}) ...\n`
            : "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
        )
      })

    const aptGet = (argv: ReadonlyArray<string>, options: RunOptions) =>
      Effect.gen(function*() {
        const args = argv.slice(1)
        const state = yield* get
        if (sameArgs(args, APT_FIX_BROKEN)) return yield* aptFixBroken(argv, options)
        const last = args.at(-1) ?? ""
        if (last.startsWith(`${PACKAGE}=`) && sameArgs(args.slice(0, -1), APT_DOWNLOAD_VERSION_PREFIX)) {
          const version = last.slice(PACKAGE.length + 1)
          if (!visibleOffers(state).includes(version) && state.installed?.version === version) {
            // What apt says, exiting 0, of an installed version no source offers any more.
            return result(0, `Reinstallation of ${PACKAGE} is not possible, it cannot be downloaded.\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n`)
          }
          if (!visibleOffers(state).includes(version)) {
            return result(100, "Reading package lists...\n", `E: Version '${version}' for '${PACKAGE}' was not found\n`)
          }
          yield* takeTime(argv, state.downloadMillis, options)
          yield* leavePackage(APT_CACHE, version, "deb")
          return result(0, `Get:1 https://agentrepo.example/debian serveragent/main amd64 ${PACKAGE} amd64 ${version}\nDownload complete and in download only mode\n`)
        }
        if (last.startsWith("/") && sameArgs(args.slice(0, -1), APT_INSTALL_VERSION_PREFIX)) {
          const version = packageFile(last, "deb")
          if (version === undefined) return result(100, "", `E: Unsupported file ${last} given on commandline\n`)
          return yield* aptInstallVersion(argv, version, options, true)
        }
        const pinned = args.at(-1)?.startsWith(`${PACKAGE}=`) === true &&
          (sameArgs(args.slice(0, -1), APT_INSTALL_VERSION_PREFIX) || sameArgs(args.slice(0, -1), APT_REINSTALL_VERSION_PREFIX))
        if (pinned) return yield* aptInstallVersion(argv, args.at(-1)!.slice(PACKAGE.length + 1), options)
        const isUpdate = sameArgs(args, ["update"]) ||
          (args.length === 7 && args[0] === "update" && args[1] === "-o" &&
            args[2]!.startsWith("Dir::Etc::sourcelist=/") && sameArgs(args.slice(3), APT_UPDATE_RESTRICTED))
        if (isUpdate) {
          if (state.failures.refresh !== undefined) {
            return result(100, "Reading package lists...\n", `${state.failures.refresh}\n`)
          }
          yield* set((s) => ({ ...s, refreshed: true }))
          return result(0, "Hit:1 https://agentrepo.example/debian serveragent InRelease\nReading package lists...\n")
        }
        const download = sameArgs(args, APT_DOWNLOAD)
        if (!download && !sameArgs(args, APT_INSTALL)) {
          return result(100, "", `E: fake apt-get does not understand: ${args.join(" ")}\n`)
        }
        const candidate = aptCandidate(state)
        if (candidate === undefined) {
          return result(100, "Reading package lists...\n", `E: Unable to locate package ${PACKAGE}\n`)
        }
        if (state.installed?.dpkgState === "installed" && state.installed.version === candidate) {
          return result(0, `${PACKAGE} is already the newest version (${candidate}).\n0 upgraded, 0 newly installed.\n`)
        }
        if (state.held && agentPresent(state)) return heldError
        if (download) {
          yield* takeTime(argv, state.downloadMillis, options)
          if (state.failures.download !== undefined) return result(100, "", `${state.failures.download}\n`)
          yield* set((s) => ({ ...s, downloaded: candidate }))
          yield* leavePackage(APT_CACHE, candidate, "deb")
          return result(0, `Get:1 https://agentrepo.example/debian serveragent/main amd64 ${PACKAGE} amd64 ${candidate}\nDownload complete and in download only mode\n`)
        }
        yield* takeTime(argv, state.transactionMillis, options)
        if (state.failures.install !== undefined) {
          return result(100, `Setting up ${PACKAGE} (${candidate}) ...\n`, `dpkg: error processing package ${PACKAGE} (--configure):\n${state.failures.install}\n`)
        }
        if (state.failures.postinst !== undefined && agentPresent(state)) {
          yield* set((s) => ({ ...s, installed: { version: candidate, dpkgState: "half-configured" }, downloaded: undefined }))
          return result(100, `Setting up ${PACKAGE} (${candidate}) ...\n`, `dpkg: error processing package ${PACKAGE} (--configure):\n${state.failures.postinst}\n`)
        }
        yield* set((s) => ({ ...s, installed: { version: candidate, dpkgState: "installed" }, downloaded: undefined }))
        return result(0, `Unpacking ${PACKAGE} (${candidate}) ...\nSetting up ${PACKAGE} (${candidate}) ...\n`)
      })

    const aptMark = (argv: ReadonlyArray<string>) =>
      Effect.map(get, (state) => {
        if (!sameArgs(argv.slice(1), ["showhold", PACKAGE])) return result(100, "", `E: fake apt-mark does not understand: ${argv.slice(1).join(" ")}\n`)
        return result(0, state.held ? `${PACKAGE}\n` : "")
      })

    const DPKG_CONFIGURE_ALL = ["--force-confdef", "--force-confold", "--configure", "-a"]

    /** `dpkg --audit` and `dpkg --configure -a`; dpkg itself is never run for anything else. */
    const dpkg = (argv: ReadonlyArray<string>, options: RunOptions) =>
      Effect.gen(function*() {
        const args = argv.slice(1)
        const state = yield* get
        const agentState = state.installed?.dpkgState
        if (sameArgs(args, ["--audit"])) {
          const agentText = agentState !== undefined && UNFINISHED.has(agentState)
            ? `${AUDIT_TEXT[agentState]} ${PACKAGE}                 Cloud Backup agent\n\n`
            : ""
          const report = agentText + state.dpkgAudit
          // dpkg >= 1.17.? exits 1 when it has something to report.
          return result(report === "" ? 0 : 1, report)
        }
        if (!sameArgs(args, DPKG_CONFIGURE_ALL)) return result(2, "", `dpkg: error: fake does not support ${args.join(" ")}\n`)
        if (state.failures.configure !== undefined) {
          return result(1, "", `dpkg: error processing package other-package (--configure):\n${state.failures.configure}\n`)
        }
        yield* takeTime(argv, state.transactionMillis, options)
        if (agentState === "half-installed") {
          yield* set((s) => ({ ...s, dpkgAudit: "" }))
          return result(
            1,
            "",
            `dpkg: error processing package ${PACKAGE} (--configure):\n package ${PACKAGE} is not ready for configuration\n cannot configure (current status 'half-installed')\nErrors were encountered while processing:\n ${PACKAGE}\n`
          )
        }
        const configures = agentState !== undefined && UNFINISHED.has(agentState)
        yield* set((s) => ({
          ...s,
          dpkgAudit: "",
          installed: configures ? { version: s.installed!.version, dpkgState: "installed" } : s.installed
        }))
        return result(0, configures ? `Setting up ${PACKAGE} (${state.installed!.version}) ...\n` : "")
      })

    /** `dpkg-deb --build DIR OUT`: the package appears at OUT. */
    const dpkgDeb = (argv: ReadonlyArray<string>) =>
      Effect.sync(() => {
        const [flag, dir, out] = argv.slice(1)
        if (flag !== "--build" || dir === undefined || out === undefined || init.root === undefined) {
          return result(2, "", `dpkg-deb: error: fake does not support ${argv.slice(1).join(" ")}\n`)
        }
        if (!fs.existsSync(path.join(init.root, dir, "DEBIAN/control"))) {
          return result(2, "", `dpkg-deb: error: failed to open package info file '${dir}/DEBIAN/control' for reading\n`)
        }
        fs.writeFileSync(path.join(init.root, out), "fake rebuilt deb\n")
        return result(0, `dpkg-deb: building package '${PACKAGE}' in '${out}'.\n`)
      })

    const rpmQuery = (argv: ReadonlyArray<string>) =>
      Effect.map(get, (state) => {
        if (!sameArgs(argv.slice(1), ["-q", "--qf", "%{VERSION}-%{RELEASE}\\n", PACKAGE])) {
          return result(1, "", `rpm: fake does not support ${argv.join(" ")}\n`)
        }
        if (!agentPresent(state)) return result(1, `package ${PACKAGE} is not installed\n`)
        const versions = [state.installed!.version, ...(state.duplicate === undefined ? [] : [state.duplicate])]
        return result(0, versions.sort(compareVersions).map((v) => `${v}\n`).join(""))
      })

    const COMMON_FLAGS = new Set([
      "-y",
      "-q",
      "--downloadonly",
      "--showduplicates",
      "--disablerepo=*",
      "--enablerepo=drivesrvr"
    ])
    const DNF_ONLY_FLAGS = new Set([
      "--refresh",
      "--repo=drivesrvr",
      "--available",
      "--latest-limit=1",
      "--queryformat=%{version}-%{release}\\n",
      "--duplicates"
    ])
    const DOWNLOAD_DIR = "--downloaddir="

    /** `dnf/yum install|downgrade driveclient-V`: only an offered version, and a downgrade only down. */
    const rpmInstallVersion = (
      argv: ReadonlyArray<string>,
      tool: "dnf" | "yum",
      verb: "install" | "downgrade",
      version: string,
      options: RunOptions,
      fromFile = false
    ) =>
      Effect.gen(function*() {
        const state = yield* get
        const installed = agentPresent(state) ? state.installed!.version : undefined
        const spec = `${PACKAGE}-${version}`
        const nothingMarked = `Error: No packages marked for ${verb === "install" ? "installation" : "downgrade"}.\n`
        if (!fromFile && !visibleOffers(state).includes(version)) {
          return tool === "dnf"
            ? result(1, `No match for argument: ${spec}\n`, verb === "install" ? `Error: Unable to find a match: ${spec}\n` : nothingMarked)
            : result(1, `No package ${spec} available.\n`, "Error: Nothing to do\n")
        }
        if (verb === "downgrade") {
          if (installed === undefined) {
            return result(1, `Packages for argument ${spec} available, but not installed.\n`, nothingMarked)
          }
          if (compareVersions(installed, version) <= 0) {
            return result(1, `Package ${PACKAGE} of lowest version already installed, cannot downgrade it.\n`, nothingMarked)
          }
        } else if (installed !== undefined) {
          if (installed === version) {
            return result(0, `Package ${spec}.${ARCH} is already installed.\nDependencies resolved.\nNothing to do.\nComplete!\n`)
          }
          // Whether `install` of an older version downgrades differs between versions: the fake refuses it.
          if (compareVersions(installed, version) > 0) {
            return result(1, `Package ${PACKAGE}-${installed}.${ARCH} of higher version already installed.\n`, nothingMarked)
          }
        }
        yield* takeTime(argv, state.transactionMillis, options)
        if (state.failures.rollback !== undefined) return result(1, "Running transaction\n", `${state.failures.rollback}\n`)
        yield* set((s) => ({ ...s, installed: { version, dpkgState: "installed" }, downloaded: undefined }))
        const doing = verb === "downgrade" ? "Downgrading" : installed === undefined ? "Installing" : "Upgrading"
        return result(0, `Running transaction\n  ${doing} : ${PACKAGE}-${version}.${ARCH}\nComplete!\n`)
      })

    /** dnf remove --duplicates, package-cleanup --cleandupes, yum-complete-transaction: the older copy goes. */
    const removeDuplicates = (argv: ReadonlyArray<string>, options: RunOptions) =>
      Effect.gen(function*() {
        const state = yield* get
        if (state.failures.repair !== undefined) return result(1, "", `${state.failures.repair}\n`)
        if (state.duplicate === undefined || state.installed === undefined) {
          return result(0, "No duplicated packages found for removal.\n")
        }
        yield* takeTime(argv, state.transactionMillis, options)
        const [older, newer] = [state.installed.version, state.duplicate].sort(compareVersions)
        yield* set((s) => ({ ...s, installed: { version: newer!, dpkgState: "installed" }, duplicate: undefined }))
        return result(0, `Running transaction\n  Erasing : ${PACKAGE}-${older}.${ARCH}\nComplete!\n`)
      })

    const rpmFrontend = (argv: ReadonlyArray<string>, options: RunOptions) =>
      Effect.gen(function*() {
        const tool = argv[0] as "dnf" | "yum"
        const flags = argv.slice(1).filter((arg) => arg.startsWith("-"))
        const words = argv.slice(1).filter((arg) => !arg.startsWith("-"))
        const unknown = flags.find((flag) =>
          !COMMON_FLAGS.has(flag) && !(tool === "dnf" && DNF_ONLY_FLAGS.has(flag)) && !flag.startsWith(DOWNLOAD_DIR)
        )
        if (unknown !== undefined) {
          return tool === "dnf"
            ? result(2, "", `dnf: error: unrecognized arguments: ${unknown}\n`)
            : result(1, "", `Command line error: no such option: ${unknown}\n`)
        }
        const has = (flag: string) => flags.includes(flag)
        const state = yield* get
        const installed = agentPresent(state) ? state.installed!.version : undefined
        const target = newest(visibleOffers(state))

        if (sameArgs(words, ["clean", "expire-cache"])) {
          yield* set((s) => ({ ...s, expired: true }))
          return result(0, "Cleaning repos: drivesrvr\n6 metadata files removed\n")
        }
        if (sameArgs(words, ["makecache"])) {
          if (state.failures.refresh !== undefined) return result(1, "", `${state.failures.refresh}\n`)
          // dnf fetches at once with --refresh; yum only what `clean expire-cache` marked as stale.
          const fetches = tool === "dnf" ? has("--refresh") : state.expired
          if (fetches) yield* set((s) => ({ ...s, refreshed: true, expired: false }))
          return result(0, "Metadata cache created.\n")
        }
        if (tool === "dnf" && sameArgs(words, ["repoquery", PACKAGE]) && has("--queryformat=%{version}-%{release}\\n")) {
          const versions = has("--latest-limit=1") ? [target].filter((v) => v !== undefined) : visibleOffers(state)
          return result(0, versions.map((v) => `${v}\n`).join(""))
        }
        if (tool === "yum" && sameArgs(words, ["list", "available", PACKAGE])) {
          const available = visibleOffers(state).filter((v) => v !== installed).sort(compareVersions)
          const listed = has("--showduplicates") ? available : available.slice(-1)
          if (listed.length === 0) return result(1, "", "Error: No matching Packages to list\n")
          return result(0, `Available Packages\n${listed.map((v) => `${PACKAGE}.${ARCH}    ${v}    drivesrvr\n`).join("")}`)
        }
        const spec = words.length === 2 && words[1]!.startsWith(`${PACKAGE}-`) ? words[1]!.slice(PACKAGE.length + 1) : undefined
        const downloadDir = flags.find((flag) => flag.startsWith(DOWNLOAD_DIR))?.slice(DOWNLOAD_DIR.length)
        if (spec !== undefined && words[0] === "reinstall" && has("--downloadonly") && downloadDir !== undefined) {
          if (!visibleOffers(state).includes(spec)) {
            return result(1, `No match for argument: ${PACKAGE}-${spec}\n`, `Error: No packages marked for reinstall.\n`)
          }
          yield* takeTime(argv, state.downloadMillis, options)
          yield* leavePackage(downloadDir, spec, "rpm")
          return tool === "dnf"
            ? result(0, "Complete!\nThe downloaded packages were saved in cache until the next successful transaction.\n")
            : result(1, `${PACKAGE}-${spec}.${ARCH}.rpm\nexiting because "Download Only" specified\n`)
        }
        const file = words.length === 2 && words[1]!.startsWith("/") ? words[1]! : undefined
        if (file !== undefined && (words[0] === "install" || words[0] === "downgrade") && !has("--downloadonly")) {
          const version = packageFile(file, "rpm")
          if (version === undefined) return result(1, "", `Error: Can not load RPM file: ${file}.\n`)
          return yield* rpmInstallVersion(argv, tool, words[0], version, options, true)
        }
        if (spec !== undefined && (words[0] === "install" || words[0] === "downgrade") && !has("--downloadonly")) {
          return yield* rpmInstallVersion(argv, tool, words[0], spec, options)
        }
        if (tool === "dnf" && has("--duplicates") && sameArgs(words, ["remove", PACKAGE])) {
          return yield* removeDuplicates(argv, options)
        }
        const verb = words[0]
        if (has("--duplicates") || !((verb === "install" || verb === "upgrade") && sameArgs(words.slice(1), [PACKAGE]))) {
          return result(1, "", `Error: fake ${tool} does not understand: ${argv.slice(1).join(" ")}\n`)
        }
        const nothingToDo = result(0, "Dependencies resolved.\nNothing to do.\nComplete!\n")
        if (verb === "install" && installed !== undefined) {
          // dnf5 (and this fake) leaves an installed package alone on `install`.
          return result(0, `Package ${PACKAGE}-${installed}.${ARCH} is already installed.\nDependencies resolved.\nNothing to do.\nComplete!\n`)
        }
        if (verb === "upgrade" && installed === undefined) {
          return tool === "dnf"
            ? result(1, `Package ${PACKAGE} available, but not installed.\n`, "Error: No packages marked for upgrade.\n")
            : result(0, `Package(s) ${PACKAGE} available, but not installed.\nNo packages marked for update\n`)
        }
        if (target === undefined) {
          return verb === "install" ? result(1, "", `Error: Unable to find a match: ${PACKAGE}\n`) : nothingToDo
        }
        if (installed !== undefined && compareVersions(target, installed) <= 0) return nothingToDo

        if (has("--downloadonly")) {
          yield* takeTime(argv, state.downloadMillis, options)
          if (state.failures.download !== undefined) return result(1, "", `${state.failures.download}\n`)
          yield* set((s) => ({ ...s, downloaded: target }))
          yield* leavePackage(RPM_CACHE, target, "rpm")
          return tool === "dnf"
            ? result(0, "The downloaded packages were saved in cache until the next successful transaction.\nComplete!\n")
            : result(1, `${PACKAGE}-${target}.${ARCH}.rpm\nexiting because "Download Only" specified\n`)
        }
        yield* takeTime(argv, state.transactionMillis, options)
        if (state.failures.install !== undefined) {
          return result(1, "Running transaction\n", `${state.failures.install}\n`)
        }
        if (state.failures.postinst !== undefined && installed !== undefined) {
          yield* set((s) => ({ ...s, installed: { version: target, dpkgState: "installed" }, duplicate: installed, downloaded: undefined }))
          return result(1, "Running transaction\n", `${state.failures.postinst}\n`)
        }
        yield* set((s) => ({ ...s, installed: { version: target, dpkgState: "installed" }, downloaded: undefined }))
        return result(0, `Running transaction\n  ${verb === "install" ? "Installing" : "Upgrading"} : ${PACKAGE}-${target}.${ARCH}\nComplete!\n`)
      })

    const systemctl = (argv: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const args = argv.slice(1)
        const state = yield* get
        const present = agentPresent(state)
        if (sameArgs(args, ["is-active", "--quiet", PACKAGE])) return result(!present ? 4 : state.running ? 0 : 3)
        // Also for a unit systemd does not know: `show` reports its defaults.
        if (sameArgs(args, ["show", "--property=MainPID", PACKAGE])) {
          return result(0, `MainPID=${present && state.running ? AGENT_MAIN_PID : 0}\n`)
        }
        if (sameArgs(args, ["is-enabled", PACKAGE])) {
          if (!present) return result(1, "", `Failed to get unit file state for ${PACKAGE}.service: No such file or directory\n`)
          return result(ENABLED_EXIT_0.has(state.unitFileState) ? 0 : 1, `${state.unitFileState}\n`)
        }
        const operation = args[0]
        if (!((operation === "stop" || operation === "start") && sameArgs(args.slice(1), [PACKAGE]))) {
          return result(1, "", `Unknown command verb ${args.join(" ")}.\n`)
        }
        if (!present) {
          return result(5, "", `Failed to ${operation} ${PACKAGE}.service: Unit ${PACKAGE}.service not ${operation === "stop" ? "loaded" : "found"}.\n`)
        }
        const failure = state.failures[operation] ??
          (operation === "start" && state.failures.startOf === state.installed?.version ? "Job for driveclient.service failed" : undefined)
        if (failure !== undefined) return result(1, "", `${failure}\n`)
        yield* set((s) => ({ ...s, running: operation === "start" }))
        return result(0)
      })

    /** `service driveclient <action>` and `/etc/init.d/driveclient <action>`, with LSB exit codes. */
    const initScript = (argv: ReadonlyArray<string>, action: string | undefined, viaService: boolean) =>
      Effect.gen(function*() {
        const state = yield* get
        if (!agentPresent(state)) {
          if (viaService) return result(1, "", `${PACKAGE}: unrecognized service\n`)
          return yield* new ShellError({ argv, reason: "NotFound", detail: "command not found" })
        }
        switch (action) {
          case "status":
            return result(
              state.lsbStatus ?? (state.running ? 0 : 3),
              state.running ? `${PACKAGE} is running\n` : `${PACKAGE} is stopped\n`
            )
          case "stop":
          case "start": {
            const failure = state.failures[action] ??
              (action === "start" && state.failures.startOf === state.installed?.version ? `Starting ${PACKAGE}: [FAILED]` : undefined)
            if (failure !== undefined) return result(1, "", `${failure}\n`)
            yield* set((s) => ({ ...s, running: action === "start" }))
            return result(0, `${action === "stop" ? "Stopping" : "Starting"} ${PACKAGE}: [  OK  ]\n`)
          }
          default:
            return result(2, "", `Usage: /etc/init.d/${PACKAGE} {start|stop|status|restart}\n`)
        }
      })

    const answer = (argv: readonly [string, ...Array<string>], options: RunOptions) => {
      switch (argv[0]) {
        case "dpkg-query":
          return dpkgQuery(argv)
        case "apt-get":
          return aptGet(argv, options)
        case "apt-cache":
          return aptCachePolicy(argv)
        case "apt-mark":
          return aptMark(argv)
        case "dpkg":
          return dpkg(argv, options)
        case "dpkg-deb":
          return dpkgDeb(argv)
        case "package-cleanup":
          return sameArgs(argv.slice(1), ["-y", "--cleandupes"]) ? removeDuplicates(argv, options) : notUnderstood(argv)
        case "yum-complete-transaction":
          return sameArgs(argv.slice(1), ["-y"]) ? removeDuplicates(argv, options) : notUnderstood(argv)
        case "rpm":
          return rpmQuery(argv)
        case "dnf":
        case "yum":
          return rpmFrontend(argv, options)
        case "systemctl":
          return systemctl(argv)
        case "service":
          return argv.length === 3 && argv[1] === PACKAGE ? initScript(argv, argv[2], true) : notUnderstood(argv)
        case `/etc/init.d/${PACKAGE}`:
          return argv.length === 2 ? initScript(argv, argv[1], false) : notUnderstood(argv)
        default:
          return notUnderstood(argv)
      }
    }

    const shell: ShellService = {
      run: (argv, options = {}) =>
        Effect.gen(function*() {
          const atMillis = yield* Clock.currentTimeMillis
          yield* markStarted(argv)
          const exit = yield* Effect.exit(answer(argv, options))
          yield* Ref.update(transcript, (entries) => [...entries, {
            argv: [...argv],
            env: { ...options.env },
            output: options.output ?? "capture",
            timeoutMillis: options.timeout === undefined ? undefined : Duration.toMillis(options.timeout),
            atMillis,
            exit: exit._tag === "Success"
              ? exit.value.exitCode
              : exit.cause._tag === "Fail"
              ? exit.cause.error.reason
              : "SpawnFailed"
          }])
          return yield* exit
        })
    }

    return {
      shell,
      state: get,
      update: set,
      transcript: Ref.get(transcript),
      commands: Effect.map(Ref.get(transcript), (entries) => entries.map((entry) => entry.argv)),
      whenStarted
    }
  })

/** Shell answered by a fake host, and the host itself for the test to inspect and change. */
export const layer = (init: FakeHostInit = {}): Layer.Layer<Shell | FakeHost> => {
  const host = Layer.effect(FakeHost, make(init))
  return Layer.provideMerge(Layer.effect(Shell, Effect.map(FakeHost, (fake) => fake.shell)), host)
}
