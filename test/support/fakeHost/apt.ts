/** dpkg-query, apt-get, apt-cache, apt-mark, dpkg and dpkg-deb, as the fake host answers them. */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseSources } from "../../../src/domain/AptSources.js"
import { parseArmoredPublicKey } from "../../../src/domain/OpenPgpKey.js"
import {
  agentPresent,
  aptCandidate,
  compareVersions,
  type DpkgState,
  presentVersion,
  UNFINISHED,
  visibleOffers
} from "../../../src/layers/simulated/HostState.js"
import {
  APT_DOWNLOAD,
  APT_FIX_BROKEN,
  APT_CONFIG_DUMP,
  APT_INSTALL,
  APT_POLICY,
  APT_SHOWHOLD,
  APT_SIMULATE,
  APT_UPDATE_ALL,
  aptDownloadVersion,
  aptInstallExactly,
  aptInstallVersion,
  aptReinstallVersion,
  aptUpdate,
  DPKG_AUDIT,
  DPKG_CONFIGURE_ALL,
  DPKG_QUERY,
  dpkgDebBuild,
  dpkgInstallArchive,
  HOLE
} from "../ExpectedCommands.js"
import { type Answer, type Call, type CommandTable, entries, entry, result } from "./CommandTable.js"
import { APT_CACHE } from "./PackageFiles.js"

const PACKAGE = "driveclient"
const TRANSACTION_ERROR = "E: Sub-process /usr/bin/dpkg returned an error code (1)"

/** What `dpkg --audit` says about a package in each unfinished state (dpkg's own wording, abridged). */
const AUDIT_TEXT: Partial<Record<DpkgState, string>> = {
  "half-installed": "The following packages are only half installed, due to problems during\ninstallation.  The installation can probably be completed by retrying it;\nthe packages can be removed using dselect or dpkg --remove:\n",
  unpacked: "The following packages have been unpacked but not yet configured.\nThey must be configured using dpkg --configure or the configure\nmenu option in dselect for them to work:\n",
  "half-configured": "The following packages are only half configured, probably due to problems\nconfiguring them the first time.  The configuration should be retried using\ndpkg --configure <package> or the configure menu option in dselect:\n",
  "triggers-awaited": "The following packages are awaiting processing of triggers that they\nhave activated in other packages.  This processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n",
  "triggers-pending": "The following packages have been triggered, but the trigger processing\nhas not yet been done.  Trigger processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n"
}

const heldError = result(
  100,
  `The following held packages will be changed:\n  ${PACKAGE}\n`,
  "E: Held packages were changed and -y was used without --allow-change-held-packages.\n"
)
const notFound = (version: string) =>
  result(100, "Reading package lists...\n", `E: Version '${version}' for '${PACKAGE}' was not found\n`)
const alreadyNewest = (version: string) =>
  result(0, `${PACKAGE} is already the newest version (${version}).\n0 upgraded, 0 newly installed.\n`)
const fetched = (version: string) =>
  result(0, `Get:1 https://agentrepo.example/debian serveragent/main amd64 ${PACKAGE} amd64 ${version}\nDownload complete and in download only mode\n`)
const dpkgFailed = (version: string, line: string) =>
  result(100, `Setting up ${PACKAGE} (${version}) ...\n`, `dpkg: error processing package ${PACKAGE} (--configure):\n${line}\n`)

const dpkgQuery = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    if (state.installed === undefined) return result(1, "", `dpkg-query: no packages found matching ${PACKAGE}\n`)
    const { dpkgState, version } = state.installed
    return result(0, `${dpkgState} ${dpkgState === "not-installed" ? "" : version}\n`)
  })

const policy = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    const installed = presentVersion(state)
    const candidate = aptCandidate(state)
    // apt-cache prints nothing at all for a package it has never heard of.
    if (candidate === undefined && state.installed === undefined) return result(0)
    const offers = visibleOffers(state)
    const table = [
      ...offers.map((v) => ` ${v === installed ? "***" : "   "} ${v} 500\n        500 https://agentrepo.example/debian serveragent/main amd64 Packages`),
      ...(installed !== undefined && !offers.includes(installed) ? [` *** ${installed} 100`] : [])
    ]
    return result(
      0,
      `${PACKAGE}:\n  Installed: ${installed ?? "(none)"}\n  Candidate: ${candidate ?? "(none)"}\n  Version table:\n${
        table.map((line) => `${line}\n`).join("")
      }`
    )
  })

/**
 * apt 2's words when the keyring an agent entry of `sourcesFile` names does not hold the key the
 * repository is signed with; undefined when it does (or the host has no such key). A source whose
 * index files were fetched before is only warned about: apt keeps the old lists and exits 0.
 * An entry with no signed-by is never verified, as with apt 3, which ignores `apt-key`'s keyrings.
 */
const keyError = ({ host }: Call, sourcesFile: string | undefined, fetchedBefore: boolean) => {
  const signingKey = host.aptRepositoryKey
  const root = host.files.root
  if (signingKey === undefined || root === undefined || sourcesFile === undefined) return undefined
  const entries = parseSources(sourcesFile, fs.readFileSync(path.join(root, sourcesFile), "utf8"))
  const agent = entries.find((entry) => entry.suite === "serveragent")
  if (agent === undefined) return undefined
  const keyring = agent.signedBy === undefined ? undefined : path.join(root, agent.signedBy)
  if (keyring !== undefined && fs.existsSync(keyring) && fs.readFileSync(keyring, "utf8") === signingKey) return undefined
  const keyId = Either.getOrThrow(parseArmoredPublicKey(signingKey)).fingerprint.slice(-16)
  const source = `${agent.uri.replace(/\/+$/, "")} serveragent InRelease`
  const why = `The following signatures couldn't be verified because the public key is not available: NO_PUBKEY ${keyId}`
  if (fetchedBefore) {
    return result(
      0,
      `Get:1 ${source} [1234 B]\nErr:1 ${source}\n  ${why}\nReading package lists...\n`,
      `W: An error occurred during the signature verification. The repository is not updated and the previous index files will be used. GPG error: ${source}: ${why}\nW: Failed to fetch ${agent.uri.replace(/\/+$/, "")}/dists/serveragent/InRelease  ${why}\nW: Some index files failed to download. They have been ignored, or old ones used instead.\n`
    )
  }
  return result(
    100,
    `Get:1 ${source} [1234 B]\nErr:1 ${source}\n  ${why}\nReading package lists...\n`,
    `W: GPG error: ${source}: ${why}\nE: The repository '${source}' is not signed.\nN: Updating from such a repository can't be done securely, and is therefore disabled by default.\nN: See apt-secure(8) manpage for repository creation and user configuration details.\n`
  )
}

const update = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const { failures, refreshed } = yield* host.model.state
    if (failures.refresh !== undefined) return result(100, "Reading package lists...\n", `${failures.refresh}\n`)
    const unverified = keyError(call, call.holes.length > 0 ? `/${call.holes[0]}` : undefined, refreshed)
    if (unverified !== undefined) return unverified
    yield* host.model.refresh
    return result(0, "Hit:1 https://agentrepo.example/debian serveragent InRelease\nReading package lists...\n")
  })

/** `apt-get install -d` or `install` of the candidate: the upgrade's download, then its transaction. */
const upgrade = (downloadOnly: boolean) => (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const candidate = aptCandidate(state)
    if (candidate === undefined) return result(100, "Reading package lists...\n", `E: Unable to locate package ${PACKAGE}\n`)
    if (state.installed?.dpkgState === "installed" && state.installed.version === candidate) return alreadyNewest(candidate)
    if (state.held && agentPresent(state)) return heldError
    if (downloadOnly) {
      yield* call.takes(host.downloadTime)
      if (state.failures.download !== undefined) return result(100, "", `${state.failures.download}\n`)
      yield* host.model.downloaded(candidate)
      yield* host.files.leave(APT_CACHE, candidate, "deb")
      return fetched(candidate)
    }
    yield* call.takes(host.transactionTime)
    const outcome = yield* host.model.transaction(candidate, "deb")
    if (outcome._tag === "Failed") return dpkgFailed(candidate, outcome.line ?? TRANSACTION_ERROR)
    return result(0, `Unpacking ${PACKAGE} (${candidate}) ...\nSetting up ${PACKAGE} (${candidate}) ...\n`)
  })

/** `apt-get install -s`: apt's plan for the candidate, as `Inst` and `Conf` lines. */
const simulate = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    const candidate = aptCandidate(state)
    if (candidate === undefined) return result(100, "Reading package lists...\n", `E: Unable to locate package ${PACKAGE}\n`)
    if (state.installed?.dpkgState === "installed" && state.installed.version === candidate) return alreadyNewest(candidate)
    if (state.held && agentPresent(state)) return heldError
    const from = state.installed === undefined ? "" : ` [${state.installed.version}]`
    const origin = `${candidate} agentrepo.example:serveragent [amd64]`
    return result(
      0,
      `The following packages will be upgraded:\n  ${PACKAGE}\nInst ${PACKAGE}${from} (${origin})\nConf ${PACKAGE} (${origin})\n`
    )
  })

/**
 * `dpkg -i FILE` of a downloaded archive: the transaction to its version. dpkg's database (the
 * status file under the root, when there is one) changes with every transaction that starts.
 */
const installArchive = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const file = `/${call.holes[0]}`
    const version = host.files.versionOf(file, "deb")
    if (version === undefined) return result(2, "", `dpkg: error: cannot access archive '${file}': No such file or directory\n`)
    yield* call.takes(host.transactionTime)
    const outcome = yield* host.model.transaction(version, "deb")
    const root = host.files.root
    const status = root === undefined ? undefined : path.join(root, "var/lib/dpkg/status")
    if (status !== undefined && fs.existsSync(status)) {
      fs.rmSync(status)
      fs.writeFileSync(status, `Package: ${PACKAGE}\nVersion: ${version}\n`)
    }
    if (outcome._tag === "Failed") {
      return result(
        1,
        `Unpacking ${PACKAGE} (${version}) ...\n`,
        `dpkg: error processing archive ${file} (--install):\n ${outcome.line ?? "installed driveclient package post-installation script subprocess returned error exit status 1"}\nErrors were encountered while processing:\n ${file}\n`
      )
    }
    return result(0, `Unpacking ${PACKAGE} (${version}) ...\nSetting up ${PACKAGE} (${version}) ...\n`)
  })

/** `apt-get install ... driveclient=V` or a package file: only a version apt knows of, downgrading only when allowed. */
const installExactly = (call: Call, version: string, fromFile: boolean): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const installed = presentVersion(state)
    if (!fromFile && !visibleOffers(state).includes(version) && installed !== version) return notFound(version)
    if (state.installed?.dpkgState === "installed" && installed === version) return alreadyNewest(version)
    if (state.held && installed !== undefined) return heldError
    yield* call.takes(host.transactionTime)
    if (state.failures.rollback !== undefined) {
      return result(100, `Unpacking ${PACKAGE} (${version}) ...\n`, `${state.failures.rollback}\n`)
    }
    yield* host.model.installExactly(version)
    const downgrade = installed !== undefined && compareVersions(version, installed) < 0
    return result(
      0,
      `${downgrade ? `The following packages will be DOWNGRADED:\n  ${PACKAGE}\n` : ""}Unpacking ${PACKAGE} (${version}) over (${
        installed ?? "none"
      }) ...\nSetting up ${PACKAGE} (${version}) ...\n`
    )
  })

const installFile = (call: Call): Answer => {
  const file = `/${call.holes[0]}`
  const version = call.host.files.versionOf(file, "deb")
  return version === undefined
    ? Effect.succeed(result(100, "", `E: Unsupported file ${file} given on commandline\n`))
    : installExactly(call, version, true)
}

/** `apt-get install -d --reinstall driveclient=V`: the installed version's package into apt's archives. */
const downloadVersion = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const version = call.holes[0]!
    const state = yield* host.model.state
    const offered = visibleOffers(state).includes(version)
    if (!offered && state.installed?.version === version) {
      // What apt says, exiting 0, of an installed version no source offers any more.
      return result(0, `Reinstallation of ${PACKAGE} is not possible, it cannot be downloaded.\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n`)
    }
    if (!offered) return notFound(version)
    yield* call.takes(host.downloadTime)
    yield* host.model.cache(version)
    yield* host.files.leave(APT_CACHE, version, "deb")
    return fetched(version)
  })

/** `apt-get install -f`: finishes what an interrupted dpkg left, the agent included, but not a package killed in its preinst. */
const fixBroken = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    if (state.failures.repair !== undefined) return result(100, "Correcting dependencies... Done\n", `${state.failures.repair}\n`)
    yield* call.takes(host.transactionTime)
    const configured = yield* host.model.configurePending
    return result(
      0,
      configured === "configured"
        ? `Correcting dependencies... Done\nSetting up ${PACKAGE} (${state.installed!.version}) ...\n`
        : "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
    )
  })

const showhold = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => result(0, state.held ? `${PACKAGE}\n` : ""))

const audit = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    const agentState = state.installed?.dpkgState
    const agentText = agentState !== undefined && UNFINISHED.has(agentState)
      ? `${AUDIT_TEXT[agentState]} ${PACKAGE}                 Cloud Backup agent\n\n`
      : ""
    const report = agentText + state.dpkgAudit
    // dpkg >= 1.17.? exits 1 when it has something to report.
    return result(report === "" ? 0 : 1, report)
  })

const configureAll = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    if (state.failures.configure !== undefined) {
      return result(1, "", `dpkg: error processing package other-package (--configure):\n${state.failures.configure}\n`)
    }
    yield* call.takes(host.transactionTime)
    const configured = yield* host.model.configurePending
    if (configured === "not-ready") {
      return result(
        1,
        "",
        `dpkg: error processing package ${PACKAGE} (--configure):\n package ${PACKAGE} is not ready for configuration\n cannot configure (current status 'half-installed')\nErrors were encountered while processing:\n ${PACKAGE}\n`
      )
    }
    return result(0, configured === "configured" ? `Setting up ${PACKAGE} (${state.installed!.version}) ...\n` : "")
  })

/** `dpkg-deb --build DIR OUT`: the package appears at OUT. */
const build = (call: Call): Answer =>
  Effect.sync(() => {
    const [dir, out] = call.holes as [string, string]
    const root = call.host.files.root
    if (root === undefined) return result(2, "", `dpkg-deb: error: fake does not support ${call.argv.slice(1).join(" ")}\n`)
    if (!fs.existsSync(path.join(root, dir, "DEBIAN/control"))) {
      return result(2, "", `dpkg-deb: error: failed to open package info file '${dir}/DEBIAN/control' for reading\n`)
    }
    fs.writeFileSync(path.join(root, out), "fake rebuilt deb\n")
    return result(0, `dpkg-deb: building package '${PACKAGE}' in '${out}'.\n`)
  })

export const aptTable: CommandTable = {
  programs: ["dpkg-query", "apt-get", "apt-cache", "apt-mark", "dpkg", "dpkg-deb"],
  entries: [
    entry(DPKG_QUERY, dpkgQuery),
    ...entries([aptUpdate(`/${HOLE}`), APT_UPDATE_ALL], update),
    entry(APT_POLICY, policy),
    entry(APT_DOWNLOAD, upgrade(true)),
    entry(APT_INSTALL, upgrade(false)),
    entry(APT_SIMULATE, simulate),
    // A fresh Debian's: debconf's preconfiguration only.
    entry(APT_CONFIG_DUMP, () =>
      Effect.succeed(result(
        0,
        'DPkg "";\nDPkg::Path "/usr/sbin:/usr/bin:/sbin:/bin";\nDPkg::Pre-Install-Pkgs "";\n' +
          'DPkg::Pre-Install-Pkgs:: "/usr/sbin/dpkg-preconfigure --apt || true";\n'
      ))),
    entry(dpkgInstallArchive(`/${HOLE}`), installArchive),
    entry(aptDownloadVersion(HOLE), downloadVersion),
    ...entries([aptInstallVersion(HOLE), aptReinstallVersion(HOLE)], (call) => installExactly(call, call.holes[0]!, false)),
    entry(aptInstallExactly(`/${HOLE}`), installFile),
    entry(APT_FIX_BROKEN, fixBroken),
    entry(APT_SHOWHOLD, showhold),
    entry(DPKG_AUDIT, audit),
    entry(DPKG_CONFIGURE_ALL, configureAll),
    entry(dpkgDebBuild(HOLE, HOLE), build)
  ],
  notUnderstood: (argv) => {
    const args = argv.slice(1).join(" ")
    switch (argv[0]) {
      case "dpkg-query":
        return result(2, "", `dpkg-query: fake does not support ${argv.join(" ")}\n`)
      case "dpkg":
        return result(2, "", `dpkg: error: fake does not support ${args}\n`)
      case "dpkg-deb":
        return result(2, "", `dpkg-deb: error: fake does not support ${args}\n`)
      default:
        return result(100, "", `E: fake ${argv[0]} does not understand: ${args}\n`)
    }
  }
}
