/** rpm, dnf, yum and yum-utils' duplicate removers, as the fake host answers them. */
import * as Effect from "effect/Effect"
import {
  agentPresent,
  compareVersions,
  presentVersion,
  upgradeTarget,
  visibleOffers
} from "../../../src/layers/simulated/HostState.js"
import {
  DNF_MAKECACHE,
  DNF_MAKECACHE_ALL,
  DNF_REMOVE_DUPLICATES,
  DNF_REPOQUERY,
  HOLE,
  PACKAGE_CLEANUP_DUPES,
  RPM_QUERY,
  rpmDownload,
  rpmDownloadVersion,
  rpmInstallFile,
  rpmInstallVersion,
  type RpmTool,
  rpmTransaction,
  type RpmVerb,
  YUM_COMPLETE_TRANSACTION,
  YUM_EXPIRE_CACHE,
  YUM_LIST_AVAILABLE,
  YUM_MAKECACHE
} from "../ExpectedCommands.js"
import { type Answer, type Call, type CommandEntry, type CommandTable, entries, entry, notFound, result } from "./CommandTable.js"
import { RPM_CACHE } from "./PackageFiles.js"

const PACKAGE = "driveclient"
const ARCH = "x86_64"
const TOOLS: ReadonlyArray<RpmTool> = ["dnf", "yum"]
const VERBS: ReadonlyArray<RpmVerb> = ["install", "upgrade"]

const nothingToDo = result(0, "Dependencies resolved.\nNothing to do.\nComplete!\n")
const downloadedOnly = (tool: RpmTool, version: string, dnfSays: string) =>
  tool === "dnf"
    ? result(0, dnfSays)
    // yum 3 ends a download-only run with exit status 1, having downloaded.
    : result(1, `${PACKAGE}-${version}.${ARCH}.rpm\nexiting because "Download Only" specified\n`)

const query = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    if (!agentPresent(state)) return result(1, `package ${PACKAGE} is not installed\n`)
    const versions = [state.installed!.version, ...(state.duplicate === undefined ? [] : [state.duplicate])]
    return result(0, versions.sort(compareVersions).map((v) => `${v}\n`).join(""))
  })

const makecache = (fetches: "always" | "when expired") => ({ host }: Call): Answer =>
  Effect.gen(function*() {
    const { failures } = yield* host.model.state
    if (failures.refresh !== undefined) return result(1, "", `${failures.refresh}\n`)
    yield* (fetches === "always" ? host.model.refresh : host.model.refreshIfExpired)
    return result(0, "Metadata cache created.\n")
  })

const expireCache = ({ host }: Call): Answer =>
  Effect.as(host.model.expireMetadata, result(0, "Cleaning repos: drivesrvr\n6 metadata files removed\n"))

const repoquery = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    const target = upgradeTarget(state)
    return result(0, target === undefined ? "" : `${target}\n`)
  })

const listAvailable = ({ host }: Call): Answer =>
  Effect.map(host.model.state, (state) => {
    const installed = presentVersion(state)
    const available = visibleOffers(state).filter((v) => v !== installed).sort(compareVersions)
    if (available.length === 0) return result(1, "", "Error: No matching Packages to list\n")
    return result(0, `Available Packages\n${available.map((v) => `${PACKAGE}.${ARCH}    ${v}    drivesrvr\n`).join("")}`)
  })

/** `install|upgrade [--downloadonly] driveclient`: the upgrade's download, then its transaction. */
const upgrade = (tool: RpmTool, verb: RpmVerb, downloadOnly: boolean) => (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const installed = presentVersion(state)
    const target = upgradeTarget(state)
    if (verb === "install" && installed !== undefined) {
      // dnf5 (and this fake) leaves an installed package alone on `install`.
      return result(0, `Package ${PACKAGE}-${installed}.${ARCH} is already installed.\nDependencies resolved.\nNothing to do.\nComplete!\n`)
    }
    if (verb === "upgrade" && installed === undefined) {
      return tool === "dnf"
        ? result(1, `Package ${PACKAGE} available, but not installed.\n`, "Error: No packages marked for upgrade.\n")
        : result(0, `Package(s) ${PACKAGE} available, but not installed.\nNo packages marked for update\n`)
    }
    if (target === undefined) return verb === "install" ? result(1, "", `Error: Unable to find a match: ${PACKAGE}\n`) : nothingToDo
    if (installed !== undefined && compareVersions(target, installed) <= 0) return nothingToDo
    if (downloadOnly) {
      yield* call.takes(host.downloadTime)
      if (state.failures.download !== undefined) return result(1, "", `${state.failures.download}\n`)
      yield* host.model.downloaded(target)
      yield* host.files.leave(RPM_CACHE, target, "rpm")
      return downloadedOnly(tool, target, "The downloaded packages were saved in cache until the next successful transaction.\nComplete!\n")
    }
    yield* call.takes(host.transactionTime)
    const outcome = yield* host.model.transaction(target, "rpm")
    if (outcome._tag === "Failed") return result(1, "Running transaction\n", `${outcome.line ?? "Error: Transaction failed"}\n`)
    return result(0, `Running transaction\n  ${verb === "install" ? "Installing" : "Upgrading"} : ${PACKAGE}-${target}.${ARCH}\nComplete!\n`)
  })

/** `install|downgrade driveclient-V` or a package file: only an offered version, and a downgrade only down. */
const installExactly = (call: Call, tool: RpmTool, verb: "install" | "downgrade", version: string, fromFile: boolean): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const installed = presentVersion(state)
    const spec = `${PACKAGE}-${version}`
    const nothingMarked = `Error: No packages marked for ${verb === "install" ? "installation" : "downgrade"}.\n`
    if (!fromFile && !visibleOffers(state).includes(version)) {
      return tool === "dnf"
        ? result(1, `No match for argument: ${spec}\n`, verb === "install" ? `Error: Unable to find a match: ${spec}\n` : nothingMarked)
        : result(1, `No package ${spec} available.\n`, "Error: Nothing to do\n")
    }
    if (verb === "downgrade") {
      if (installed === undefined) return result(1, `Packages for argument ${spec} available, but not installed.\n`, nothingMarked)
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
    yield* call.takes(host.transactionTime)
    if (state.failures.rollback !== undefined) return result(1, "Running transaction\n", `${state.failures.rollback}\n`)
    yield* host.model.installExactly(version)
    const doing = verb === "downgrade" ? "Downgrading" : installed === undefined ? "Installing" : "Upgrading"
    return result(0, `Running transaction\n  ${doing} : ${PACKAGE}-${version}.${ARCH}\nComplete!\n`)
  })

const installFile = (tool: RpmTool, verb: "install" | "downgrade") => (call: Call): Answer => {
  const file = `/${call.holes[0]}`
  const version = call.host.files.versionOf(file, "rpm")
  return version === undefined
    ? Effect.succeed(result(1, "", `Error: Can not load RPM file: ${file}.\n`))
    : installExactly(call, tool, verb, version, true)
}

/** `reinstall --downloadonly --downloaddir=DIR driveclient-V`: the installed version's package into DIR. */
const downloadVersion = (tool: RpmTool) => (call: Call): Answer =>
  Effect.gen(function*() {
    const [dir, version] = call.holes as [string, string]
    const state = yield* call.host.model.state
    if (!visibleOffers(state).includes(version)) {
      return result(1, `No match for argument: ${PACKAGE}-${version}\n`, "Error: No packages marked for reinstall.\n")
    }
    yield* call.takes(call.host.downloadTime)
    yield* call.host.files.leave(dir, version, "rpm")
    return downloadedOnly(tool, version, "Complete!\nThe downloaded packages were saved in cache until the next successful transaction.\n")
  })

/** dnf remove --duplicates, package-cleanup --cleandupes, yum-complete-transaction: the older copy goes. */
const removeDuplicates = (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    if (state.failures.repair !== undefined) return result(1, "", `${state.failures.repair}\n`)
    if (state.duplicate === undefined || state.installed === undefined) return result(0, "No duplicated packages found for removal.\n")
    yield* call.takes(host.transactionTime)
    const older = yield* host.model.removeOlderDuplicate
    return result(0, `Running transaction\n  Erasing : ${PACKAGE}-${older}.${ARCH}\nComplete!\n`)
  })

const perTool = (tool: RpmTool): ReadonlyArray<CommandEntry> => [
  ...VERBS.flatMap((verb) => [
    entry(rpmDownload(tool, verb), upgrade(tool, verb, true)),
    entry(rpmTransaction(tool, verb), upgrade(tool, verb, false))
  ]),
  entry(rpmDownloadVersion(tool, HOLE, HOLE), downloadVersion(tool)),
  ...(["install", "downgrade"] as const).flatMap((verb) => [
    entry(rpmInstallVersion(tool, verb, HOLE), (call) => installExactly(call, tool, verb, call.holes[0]!, false)),
    entry(rpmInstallFile(tool, verb, `/${HOLE}`), installFile(tool, verb))
  ])
]

export const rpmTable: CommandTable = {
  programs: ["rpm", "dnf", "yum", "package-cleanup", "yum-complete-transaction"],
  entries: [
    entry(RPM_QUERY, query),
    ...entries([DNF_MAKECACHE, DNF_MAKECACHE_ALL], makecache("always")),
    entry(YUM_EXPIRE_CACHE, expireCache),
    // yum fetches only what `clean expire-cache` marked as stale.
    entry(YUM_MAKECACHE, makecache("when expired")),
    entry(DNF_REPOQUERY, repoquery),
    entry(YUM_LIST_AVAILABLE, listAvailable),
    ...TOOLS.flatMap(perTool),
    ...entries([DNF_REMOVE_DUPLICATES, PACKAGE_CLEANUP_DUPES, YUM_COMPLETE_TRANSACTION], removeDuplicates)
  ],
  notUnderstood: (argv) => {
    const args = argv.slice(1).join(" ")
    switch (argv[0]) {
      case "rpm":
        return result(1, "", `rpm: fake does not support ${argv.join(" ")}\n`)
      case "dnf":
        return result(2, "", `dnf: error: fake dnf does not understand: ${args}\n`)
      case "yum":
        return result(1, "", `Command line error: fake yum does not understand: ${args}\n`)
      default:
        return notFound(argv)
    }
  }
}
