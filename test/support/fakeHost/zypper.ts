/**
 * zypper and `rpm --import`, as the fake host answers them, with the real tool's output
 * formats and exit statuses (/tmp/zypper-report.md): 104 for nothing found, 4 for a solver
 * problem (a lock), 7 while another process holds the zypp lock, 8 for a failed commit, 107
 * for a failed %post with the package in place. zypper deletes the packages it committed from
 * its cache unless the repository says `keeppackages=1`. Host files are read under the root.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArmoredPublicKey } from "../../../src/domain/OpenPgpKey.js"
import {
  agentPresent,
  compareVersions,
  type HostState,
  newest,
  upgradeTarget,
  visibleOffers
} from "../../../src/layers/simulated/HostState.js"
import {
  HOLE,
  rpmImport,
  ZYPPER_DOWNLOAD,
  ZYPPER_INSTALL,
  ZYPPER_LOCKS,
  ZYPPER_REFRESH,
  ZYPPER_SEARCH,
  zypperDownloadVersion,
  zypperInstallFile,
  zypperInstallVersion,
  zypperRemoveVersion
} from "../ExpectedCommands.js"
import { type Answer, type Call, type CommandEntry, type CommandTable, entry, notFound, result } from "./CommandTable.js"
import { ZYPPER_CACHE } from "./PackageFiles.js"

const PACKAGE = "driveclient"
const ARCH = "x86_64"
const ALIAS = "drivesrvr"
const REPO_NAME = "Cloud Backup agent"
const REPOS_DIR = "/etc/zypp/repos.d"
const PID_FILES = ["/run/zypp.pid", "/var/run/zypp.pid"]
const LOADING = "Loading repository data...\nReading installed packages...\n"

const fullName = (version: string) => `${PACKAGE}-${version}.${ARCH}`

/** Every installed version, oldest first (two after an interrupted upgrade). */
const installedVersions = (state: HostState): ReadonlyArray<string> =>
  agentPresent(state) ? [state.installed!.version, ...(state.duplicate === undefined ? [] : [state.duplicate])].sort(compareVersions) : []

const hostFile = (call: Call, hostPath: string) =>
  call.host.files.root === undefined ? undefined : path.join(call.host.files.root, hostPath)

/** The texts of the repo files under the root that define `[drivesrvr]`, each as that section's lines. */
const agentSections = (call: Call): ReadonlyArray<ReadonlyArray<string>> => {
  const dir = hostFile(call, REPOS_DIR)
  if (dir === undefined || !fs.existsSync(dir)) return []
  return fs.readdirSync(dir).filter((name) => name.endsWith(".repo")).flatMap((name) => {
    const lines = fs.readFileSync(path.join(dir, name), "utf8").split("\n").map((line) => line.trim())
    const start = lines.indexOf(`[${ALIAS}]`)
    if (start < 0) return []
    const end = lines.findIndex((line, i) => i > start && /^\[.*\]$/.test(line))
    return [lines.slice(start + 1, end < 0 ? undefined : end)]
  })
}

/** Without a root the fake cannot look: the repository counts as defined. */
const repositoryDefined = (call: Call) => call.host.files.root === undefined || agentSections(call).length > 0

const keepsPackages = (call: Call) =>
  agentSections(call).some((section) => section.some((line) => /^keeppackages\s*=\s*(1|yes|true|on)$/i.test(line)))

const unknownRepository = result(
  3,
  "Use 'zypper repos' to get the list of defined repositories.\n",
  `Repository '${ALIAS}' not found by its alias, number, or URI.\n`
)

const noProvider = (spec: string) =>
  result(104, `${LOADING}'${spec}' not found in package names. Trying capabilities.\n`, `No provider of '${spec}' found.\n`)

const lockedProblem = (version: string) =>
  result(
    4,
    `${LOADING}Resolving package dependencies...\n\nProblem: conflicting requests\n Solution 1: Following actions will be done:\n` +
      `  remove lock to allow installation of ${fullName(version)}[${ALIAS}]\n` +
      ` Solution 2: do not ask to install a solvable providing ${PACKAGE}.${ARCH} = ${version}\n\n` +
      "Choose from above solutions by number or cancel [1/2/c/d/?] (c): c\n"
  )

/** A failed commit: the tool's line last. */
const commitFailed = (version: string, line: string) =>
  result(
    8,
    `${LOADING}Checking for file conflicts: [....done]\n(1/1) Installing: ${fullName(version)} [...error]\nAbort, retry, ignore? [a/r/i] (a): a\n`,
    `Installation of ${fullName(version)} failed:\n${line}\n`
  )

const installed = (version: string, doing: string) =>
  result(0, `${LOADING}Resolving package dependencies...\n\n${doing}\n  ${PACKAGE}\n\nChecking for file conflicts: [....done]\n(1/1) Installing: ${fullName(version)} [....done]\n`)

/** The live process holding the zypp lock, with its name; none when it is free or its holder is dead. */
const zyppLockHolder = (call: Call): { readonly pid: number; readonly name: string } | undefined => {
  for (const pidFile of PID_FILES) {
    const file = hostFile(call, pidFile)
    if (file === undefined || !fs.existsSync(file)) continue
    const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10)
    if (!Number.isInteger(pid) || pid <= 0 || !fs.existsSync(`/proc/${pid}`)) continue
    const name = fs.existsSync(`/proc/${pid}/comm`) ? fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() : "unknown"
    return { pid, name }
  }
  return undefined
}

/**
 * Every zypper run takes the zypp lock: held by a live process, it fails with exit 7 at once,
 * or after `ZYPP_LOCK_TIMEOUT` seconds (Clock time) if it is still held then.
 */
const withZyppLock = (run: (call: Call) => Answer) => (call: Call): Answer =>
  Effect.gen(function*() {
    if (zyppLockHolder(call) !== undefined) {
      const timeout = Number.parseInt(call.options.env?.["ZYPP_LOCK_TIMEOUT"] ?? "0", 10)
      if (timeout > 0) yield* Effect.sleep(`${timeout} seconds`)
      const holder = zyppLockHolder(call)
      if (holder !== undefined) {
        return result(
          7,
          "",
          `System management is locked by the application with pid ${holder.pid} (${holder.name}).\nClose this application before trying again.\n`
        )
      }
    }
    return yield* run(call)
  })

const fingerprintOf = (key: string) => Either.match(parseArmoredPublicKey(key), { onLeft: () => undefined, onRight: (info) => info.fingerprint })

/** A section's value for `key`, as far as the fake reads it: the first line. */
const sectionValue = (section: ReadonlyArray<string>, key: string) =>
  section.map((line) => new RegExp(`^${key}\\s*=\\s*(.*)$`).exec(line)?.[1]).find((value) => value !== undefined) ?? ""

/**
 * zypper 1.14's words when the repository is signed with a key the rpm database does not hold
 * (/tmp/zypper-report.md §3); undefined when an imported key is the signing key (or the host has none).
 */
const unknownKey = (call: Call) =>
  Effect.gen(function*() {
    const signingKey = call.host.rpmRepositoryKey
    if (signingKey === undefined) return undefined
    const fingerprint = fingerprintOf(signingKey)!
    const imported = yield* Ref.get(call.host.rpmImportedKeys)
    if (imported.some((key) => fingerprintOf(key) === fingerprint)) return undefined
    const section = agentSections(call)[0] ?? []
    const [keyId, shortId] = [fingerprint.slice(-16), fingerprint.slice(-8)]
    const unknown = `File 'repomd.xml' from repository '${REPO_NAME}' is signed with an unknown key '${keyId}'.`
    return result(
      4,
      `Retrieving repository '${REPO_NAME}' metadata [.\nLooking for gpg key ID ${shortId} in cache /var/cache/zypp/pubkeys.\n` +
        `Looking for gpg key ID ${shortId} in repository ${REPO_NAME}.\n  gpgkey=${sectionValue(section, "gpgkey")}\n\n` +
        `New repository or package signing key received:\n\n  Repository:       ${REPO_NAME}\n` +
        `  Key Fingerprint:  ${fingerprint.match(/.{1,8}/g)!.join(" ")}\n  Rpm Name:         gpg-pubkey-${shortId.toLowerCase()}-6b0c7ade\n\n\n` +
        `Do you want to reject the key, or trust always? [r/a/?] (r): r\nWarning: ${unknown}\n${unknown} Continue? [yes/no] (no): no\nerror]\n`,
      `Repository '${REPO_NAME}' is invalid.\n[${ALIAS}|${sectionValue(section, "baseurl")}] Valid metadata not found at specified URL\n` +
        "History:\n - Signature verification failed for repomd.xml\n - Can't provide /repodata/repomd.xml\n\n" +
        "Please check if the URIs defined for this repository are pointing to a valid repository.\n" +
        `Skipping repository '${REPO_NAME}' because of the above error.\nCould not refresh the repositories because of errors.\n`
    )
  })

const refresh = (call: Call): Answer =>
  Effect.gen(function*() {
    if (!repositoryDefined(call)) return unknownRepository
    const { failures } = yield* call.host.model.state
    if (failures.refresh !== undefined) {
      return result(4, "", `Problem retrieving files from '${REPO_NAME}'.\n${failures.refresh}\n`)
    }
    const unverified = yield* unknownKey(call)
    if (unverified !== undefined) return unverified
    yield* call.host.model.refresh
    return result(
      0,
      `Retrieving repository '${REPO_NAME}' metadata [done]\nBuilding repository '${REPO_NAME}' cache [....done]\nSpecified repositories have been refreshed.\n`
    )
  })

const search = (call: Call): Answer =>
  Effect.gen(function*() {
    if (!repositoryDefined(call)) return unknownRepository
    const state = yield* call.host.model.state
    const installedNow = installedVersions(state)
    const offers = [...visibleOffers(state)].sort(compareVersions).reverse()
    const head = `<?xml version='1.0'?>\n<stream>\n<message type="info">Loading repository data...</message>\n<message type="info">Reading installed packages...</message>\n`
    if (offers.length === 0) return result(104, `${head}<message type="info">No matching items found.</message>\n</stream>\n`)
    const rows = offers.map((version) => {
      const status = installedNow.includes(version) ? "installed" : installedNow.length > 0 ? "other-version" : "not-installed"
      return `<solvable status="${status}" name="${PACKAGE}" kind="package" edition="${version}" arch="${ARCH}" repository="${REPO_NAME}"/>\n`
    })
    return result(0, `${head}\n<search-result version="0.0">\n<solvable-list>\n${rows.join("")}</solvable-list>\n</search-result>\n</stream>\n`)
  })

const locks = (call: Call): Answer =>
  Effect.map(call.host.model.state, (state) =>
    result(
      0,
      state.held
        ? `<?xml version='1.0'?>\n<stream>\n<locks size="1"><lock number="1"><name>${PACKAGE}</name><type>package</type></lock>\n</locks></stream>\n`
        : `<?xml version='1.0'?>\n<stream>\n<locks size="0"></locks></stream>\n`
    ))

/** After a commit, zypper deletes the committed package from its cache, unless the repository keeps packages. */
const afterCommit = (call: Call, version: string) =>
  keepsPackages(call)
    ? call.host.files.leave(ZYPPER_CACHE, version, "rpm")
    : Effect.zipRight(
      call.host.files.discard(ZYPPER_CACHE, version, "rpm"),
      call.host.model.update((s) => ({ ...s, cached: s.cached.filter((v) => v !== version) }))
    )

/** `install [--download-only] driveclient`: the newest offered version, installing or upgrading. */
const upgrade = (downloadOnly: boolean) => (call: Call): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const current = newest(installedVersions(state))
    const target = upgradeTarget(state)
    if (target === undefined && current === undefined) return noProvider(PACKAGE)
    if (target === undefined || (current !== undefined && compareVersions(target, current) <= 0)) {
      return result(
        0,
        `${LOADING}Resolving package dependencies...\n'${PACKAGE}' is already installed.\nNo update candidate for '${fullName(current!)}'. The highest available version is already installed.\nNothing to do.\n`
      )
    }
    if (state.held) return lockedProblem(target)
    if (downloadOnly) {
      yield* call.takes(host.downloadTime)
      if (state.failures.download !== undefined) {
        return result(8, `Retrieving: ${fullName(target)}.rpm [error]\nAbort, retry, ignore? [a/r/i] (a): a\n`, `${state.failures.download}\n`)
      }
      yield* host.model.downloaded(target)
      yield* host.files.leave(ZYPPER_CACHE, target, "rpm")
      return result(0, `${LOADING}Resolving package dependencies...\n\nRetrieving: ${fullName(target)}.rpm [done]\n`)
    }
    yield* call.takes(host.transactionTime)
    const outcome = yield* host.model.transaction(target, "rpm")
    if (outcome._tag === "Installed") {
      yield* afterCommit(call, target)
      return installed(target, current === undefined ? "The following NEW package is going to be installed:" : "The following package is going to be upgraded:")
    }
    if (outcome.at === "postinst") {
      // rpm goes on past a failed %post: the new version is in place, the old one erased.
      yield* host.model.update((s) => ({ ...s, installed: { version: target, dpkgState: "installed" }, duplicate: undefined }))
      yield* afterCommit(call, target)
      return result(
        107,
        `${LOADING}(1/1) Installing: ${fullName(target)} [........done]\nAdditional rpm output:\n${
          outcome.line ?? `warning: %post(${fullName(target)}) scriptlet failed, exit status 1`
        }\n`
      )
    }
    return commitFailed(
      target,
      outcome.line ??
        `Error: Subprocess failed. Error: RPM failed: error: %prein(${fullName(target)}) scriptlet failed, exit status 1`
    )
  })

/** `install --oldpackage driveclient-V` or a package file: exactly that version, up or down. */
const installExactly = (call: Call, version: string, fromFile: boolean): Answer =>
  Effect.gen(function*() {
    const { host } = call
    const state = yield* host.model.state
    const current = installedVersions(state)
    if (!fromFile && !visibleOffers(state).includes(version) && !current.includes(version)) {
      return noProvider(`${PACKAGE}-${version}`)
    }
    if (current.length === 1 && current[0] === version) {
      return result(0, `${LOADING}Resolving package dependencies...\n'${PACKAGE}-${version}' is already installed.\nNothing to do.\n`)
    }
    if (state.held && current.length > 0) return lockedProblem(version)
    yield* call.takes(host.transactionTime)
    if (state.failures.rollback !== undefined) return commitFailed(version, state.failures.rollback)
    yield* host.model.installExactly(version)
    if (!fromFile) yield* afterCommit(call, version)
    const down = current.length > 0 && compareVersions(version, current.at(-1)!) < 0
    return installed(
      version,
      current.length === 0
        ? "The following NEW package is going to be installed:"
        : `The following package is going to be ${down ? "downgraded" : "upgraded"}:`
    )
  })

const installFile = (call: Call): Answer => {
  const file = `/${call.holes[0]}`
  const version = call.host.files.versionOf(file, "rpm")
  return version === undefined
    ? Effect.succeed(result(
      3,
      "",
      `Specified local path does not exist or is not accessible.\nProblem retrieving the specified RPM file:\nMalformed URI: ${file}\nNo valid arguments specified.\n`
    ))
    : installExactly(call, version, true)
}

/** `install --download-only --force --oldpackage --repo drivesrvr driveclient-V`: that version's package into the cache. */
const downloadVersion = (call: Call): Answer =>
  Effect.gen(function*() {
    const version = call.holes[0]!
    const state = yield* call.host.model.state
    if (!visibleOffers(state).includes(version)) return noProvider(`${PACKAGE}-${version}`)
    if (state.held && agentPresent(state)) return lockedProblem(version)
    yield* call.takes(call.host.downloadTime)
    yield* call.host.model.cache(version)
    yield* call.host.files.leave(ZYPPER_CACHE, version, "rpm")
    return result(0, `${LOADING}Resolving package dependencies...\n\nRetrieving: ${fullName(version)}.rpm [done]\n`)
  })

/** `remove driveclient-V`: that installed version goes, the other stays. */
const remove = (call: Call): Answer =>
  Effect.gen(function*() {
    const version = call.holes[0]!
    const state = yield* call.host.model.state
    const current = installedVersions(state)
    if (!current.includes(version)) return noProvider(`${PACKAGE}-${version}`)
    yield* call.takes(call.host.transactionTime)
    if (state.failures.repair !== undefined) {
      return result(8, `(1/1) Removing ${fullName(version)} [...error]\n`, `Removal of ${fullName(version)} failed:\n${state.failures.repair}\n`)
    }
    const left = current.filter((v) => v !== version)
    yield* call.host.model.update((s) => ({
      ...s,
      installed: left.length === 0 ? undefined : { version: left.at(-1)!, dpkgState: "installed" },
      duplicate: left.length > 1 ? left[0] : undefined
    }))
    yield* call.host.model.record(`driveclient ${version} removed`)
    return result(0, `Reading installed packages...\nResolving package dependencies...\n\nThe following package is going to be REMOVED:\n  ${PACKAGE}\n\n(1/1) Removing ${fullName(version)} [.....done]\n`)
  })

/** `rpm --import FILE`: an ASCII-armoured public key under the root, recorded as imported. */
const importKey = (call: Call): Answer =>
  Effect.suspend(() => {
    const keyFile = `/${call.holes[0]}`
    const file = hostFile(call, keyFile)
    if (file === undefined || !fs.existsSync(file)) return Effect.succeed(result(1, "", `error: ${keyFile}: import read failed(2).\n`))
    const key = fs.readFileSync(file, "utf8")
    return key.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")
      ? Effect.as(Ref.update(call.host.rpmImportedKeys, (keys) => [...keys, key]), result(0))
      : Effect.succeed(result(1, "", `error: ${keyFile}: key 1 import failed.\n`))
  })

const zypperEntries: ReadonlyArray<CommandEntry> = [
  entry(ZYPPER_REFRESH, refresh),
  entry(ZYPPER_SEARCH, search),
  entry(ZYPPER_LOCKS, locks),
  entry(ZYPPER_DOWNLOAD, upgrade(true)),
  entry(ZYPPER_INSTALL, upgrade(false)),
  entry(zypperDownloadVersion(HOLE), downloadVersion),
  entry(zypperInstallVersion(HOLE), (call) => installExactly(call, call.holes[0]!, false)),
  entry(zypperInstallFile(`/${HOLE}`), installFile),
  entry(zypperRemoveVersion(HOLE), remove)
].map((e) => entry(e.pattern, withZyppLock(e.run)))

export const zypperTable: CommandTable = {
  programs: ["zypper"],
  entries: [...zypperEntries, entry(rpmImport(`/${HOLE}`), importKey)],
  notUnderstood: (argv) =>
    argv[0] === "zypper"
      ? result(2, "", `fake zypper does not understand: ${argv.slice(1).join(" ")}\n`)
      : notFound(argv)
}
