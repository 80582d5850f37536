/**
 * What the tests need to know about each package manager inside a root: how to read the
 * installed agent version, install a fixture file directly, configure the repository the way
 * the contract (or the original updater) does, count the agent's package transactions, hold the
 * agent as an administrator would, which lock another program holds, where packages are cached.
 */
import * as path from "node:path"
import { execOk } from "./exec.js"
import type { Build, Fixtures } from "./fixtures.js"
import { IN_ROOT } from "./paths.js"
import type { Publisher } from "./publish.js"
import { type Root, ROOT_ENV } from "./root.js"
import type { RootKind } from "./rootImage.js"

/** Every package manager the suite has a root for. */
export type Pm = "apt" | "dnf" | "zypper"
/** apt and dnf: the package managers infrastructure.test.ts drives without the updater. */
export const PMS = ["apt", "dnf"] as const satisfies ReadonlyArray<Pm>
/** PMS and zypper: what the scenario files iterate. */
export const ALL_PMS = [...PMS, "zypper"] as const satisfies ReadonlyArray<Pm>

/**
 * The package manager's own lock, as another program holds it: an fcntl lock on `file` (dpkg's
 * frontend lock), or `file` naming a live pid (dnf's RPMDB lock, zypper's /run/zypp.pid).
 */
export interface PackageLock {
  readonly kind: "fcntl" | "pidfile"
  readonly file: string
}

export interface PackageManagerOps {
  readonly pm: Pm
  readonly rootKind: RootKind
  /** The package format: what `dpkg -V`/`rpm -V`, `dpkg --audit`/`rpm -q` check. */
  readonly format: "deb" | "rpm"
  /** A fixture version's full package version: deb `1.0.0-1`, rpm `1.0.0-1.el9`. */
  fullVersion(version: string): string
  /** A fixture version's package file name, as the caches and the kept packages name it. */
  packageFile(version: string): string
  /** Where the package manager caches downloaded packages (inside the root). */
  readonly cacheDirs: ReadonlyArray<string>
  /** The lock another program can hold to keep this package manager waiting. */
  readonly packageLock: PackageLock
  /** Holds the agent package as an administrator would (apt-mark hold, versionlock, addlock). */
  holdAgent(root: Root): Promise<void>
  /**
   * Daemons the package manager's helpers start outside its process tree, left running when it
   * is killed: a power loss ends them, so the suite's simulated one does too.
   */
  readonly helperDaemons?: RegExp
  /** The installed agent's full version ("1.1.0-1", "1.1.0-1.el9"), undefined if not installed. */
  installedVersion(root: Root): Promise<string | undefined>
  /** Installs a fixture build straight from its file (dpkg -i / rpm -i); its scripts start the agent. */
  installFile(root: Root, fixtures: Fixtures, build: Build): Promise<void>
  /** Configures the repository exactly as the contract describes the updater doing it. */
  configureRepo(root: Root, publisher: Publisher, baseUrl: string): Promise<void>
  /** Files whose content must not change when the updater is told to leave things alone. */
  readonly repoFiles: ReadonlyArray<string>
  /** How many package transactions installed or upgraded driveclient so far. */
  agentTransactions(root: Root): Promise<number>
}

const countLines = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length

const debFile = (version: string) => `driveclient_${version}-1_amd64.deb`
const rpmFile = (version: string) => `driveclient-${version}-1.el9.x86_64.rpm`

const copyIn = async (root: Root, file: string): Promise<string> => {
  const inRoot = `/tmp/${path.basename(file)}`
  await execOk(["cp", file, root.path(inRoot)])
  return inRoot
}

export const apt: PackageManagerOps = {
  pm: "apt",
  rootKind: "apt",
  format: "deb",
  fullVersion: (version) => `${version}-1`,
  packageFile: debFile,
  cacheDirs: ["/var/cache/apt/archives"],
  packageLock: { kind: "fcntl", file: "/var/lib/dpkg/lock-frontend" },
  async holdAgent(root) {
    await root.execOk(["apt-mark", "hold", "driveclient"])
  },
  async installedVersion(root) {
    const result = await root.exec(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", "driveclient"])
    const [status, version] = result.stdout.trim().split(" ")
    return result.code === 0 && status === "installed" ? version : undefined
  },
  async installFile(root, fixtures, build) {
    const file = await copyIn(root, fixtures.builds[build].deb)
    await root.execOk(["dpkg", "-i", file], { env: { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" } })
  },
  async configureRepo(root, publisher, baseUrl) {
    await root.writeFile(IN_ROOT.aptKeyring, await publisher.read("debian/agentrepo.key"))
    await root.writeFile(
      IN_ROOT.aptList,
      `deb [arch=amd64 signed-by=${IN_ROOT.aptKeyring}] ${baseUrl}/debian/ serveragent main\n`
    )
  },
  repoFiles: [IN_ROOT.aptList, IN_ROOT.aptKeyring],
  async agentTransactions(root) {
    const log = await root.readFileOr("/var/log/dpkg.log", "")
    return countLines(log, /^\S+ \S+ (install|upgrade) driveclient:amd64 /)
  }
}

const rpmInstalledVersion = async (root: Root): Promise<string | undefined> => {
  const result = await root.exec(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", "driveclient"])
  return result.code === 0 ? result.stdout.trim() : undefined
}

const rpmFullVersion = (version: string) => `${version}-1.el9`

const rpmInstallFile = async (root: Root, fixtures: Fixtures, build: Build): Promise<void> => {
  const file = await copyIn(root, fixtures.builds[build].rpm)
  await root.execOk(["rpm", "-i", file])
}

export const dnf: PackageManagerOps = {
  pm: "dnf",
  rootKind: "rpm",
  format: "rpm",
  fullVersion: rpmFullVersion,
  packageFile: rpmFile,
  cacheDirs: ["/var/cache/dnf", "/var/cache/libdnf5", "/var/cache/yum"],
  // dnf 4 treats its RPMDB lock as held while the pid written in it is alive, and waits for it.
  packageLock: { kind: "pidfile", file: "/var/lib/dnf/rpmdb_lock.pid" },
  async holdAgent(root) {
    await root.writeFile("/etc/dnf/plugins/versionlock.list", "driveclient-0:1.0.0-1.el9.*\n")
  },
  installedVersion: rpmInstalledVersion,
  installFile: rpmInstallFile,
  async configureRepo(root, publisher) {
    await root.writeFile(IN_ROOT.yumRepo, await publisher.read("redhat/drivesrvr.repo"))
  },
  repoFiles: [IN_ROOT.yumRepo],
  async agentTransactions(root) {
    // dnf.rpm.log has one "Installed:"/"Upgrade:"... line per package a transaction put in place.
    const log = await root.readFileOr("/var/log/dnf.rpm.log", "")
    return countLines(log, /\b(Installed|Upgrade|Reinstall|Downgrade): driveclient-\d/)
  }
}

export const zypper: PackageManagerOps = {
  pm: "zypper",
  rootKind: "zypper",
  format: "rpm",
  fullVersion: rpmFullVersion,
  packageFile: rpmFile,
  cacheDirs: ["/var/cache/zypp/packages"],
  // zypper fails at once (exit 7) while /run/zypp.pid names a live process, unless ZYPP_LOCK_TIMEOUT.
  packageLock: { kind: "pidfile", file: "/run/zypp.pid" },
  // libzypp checks signatures with gpg on a temporary keyring, whose gpg-agent daemonizes.
  helperDaemons: /^gpg-agent --homedir \/var\/tmp\/zypp\./,
  async holdAgent(root) {
    // Writes the lock to /etc/zypp/locks.
    await root.execOk(["zypper", "--non-interactive", "addlock", "driveclient"])
  },
  installedVersion: rpmInstalledVersion,
  installFile: rpmInstallFile,
  async configureRepo(root, publisher) {
    await root.writeFile(IN_ROOT.zyppRepo, await publisher.read("redhat/drivesrvr.repo"))
    // zypper checks repomd.xml's signature and, non-interactive, rejects a key it does not know yet.
    const key = "/tmp/RPM-GPG-KEY-drivesrvr"
    await root.writeFile(key, await publisher.read("redhat/RPM-GPG-KEY-drivesrvr"))
    await root.execOk(["rpm", "--import", key])
  },
  repoFiles: [IN_ROOT.zyppRepo],
  async agentTransactions(root) {
    // One "|install|" line per package a commit put in place (upgrades and downgrades included).
    const log = await root.readFileOr("/var/log/zypp/history", "")
    return countLines(log, /^[^#|][^|]*\|install\|driveclient\|/)
  }
}

const OPS: Readonly<Record<Pm, PackageManagerOps>> = { apt, dnf, zypper }

export const opsFor = (pm: Pm): PackageManagerOps => OPS[pm]

/** The upstream part of a package version: "1.1.0-1.el9" -> "1.1.0". */
export const upstream = (version: string | undefined): string | undefined => version?.replace(/-[^-]*$/, "")
