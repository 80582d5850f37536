/**
 * What the tests need to know about each package manager inside a root: how to read the
 * installed agent version, install a fixture file directly, configure the repository the way
 * the contract (or the original updater) does, and count the agent's package transactions.
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
/** The package managers the updater has a layer for: the scenario suites iterate these. */
export const PMS = ["apt", "dnf"] as const satisfies ReadonlyArray<Pm>
export type UpdaterPm = (typeof PMS)[number]
/** PMS and zypper (whose root the suite builds while the updater has no zypper layer yet). */
export const ALL_PMS: ReadonlyArray<Pm> = [...PMS, "zypper"]

export interface PackageManagerOps {
  readonly pm: Pm
  readonly rootKind: RootKind
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

const copyIn = async (root: Root, file: string): Promise<string> => {
  const inRoot = `/tmp/${path.basename(file)}`
  await execOk(["cp", file, root.path(inRoot)])
  return inRoot
}

export const apt: PackageManagerOps = {
  pm: "apt",
  rootKind: "apt",
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

const rpmInstallFile = async (root: Root, fixtures: Fixtures, build: Build): Promise<void> => {
  const file = await copyIn(root, fixtures.builds[build].rpm)
  await root.execOk(["rpm", "-i", file])
}

export const dnf: PackageManagerOps = {
  pm: "dnf",
  rootKind: "rpm",
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
