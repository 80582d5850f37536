/**
 * The exact argument vectors the live layers must run, written out by hand so
 * that the tests check the layers rather than repeat them.
 */
export type Argv = readonly [string, ...Array<string>]

export type PackageManagerFlavor = "apt" | "dnf" | "yum"

export interface PackageCommands {
  readonly installedVersion: Argv
  readonly refresh: ReadonlyArray<Argv>
  readonly candidate: Argv
  /** Commands of one `download`, for an agent that is (or is not) installed. */
  readonly download: (agentInstalled: boolean) => ReadonlyArray<Argv>
  /** Commands of one `install`, for an agent that is (or is not) installed. */
  readonly install: (agentInstalled: boolean) => ReadonlyArray<Argv>
  /** Commands of one `isHeld`: none on dnf and yum, which read the lock files. */
  readonly isHeld: ReadonlyArray<Argv>
  /** Commands of one `repair` that finds nothing to repair. */
  readonly repairCheck: ReadonlyArray<Argv>
}

export interface ServiceCommands {
  readonly status: Argv
  readonly stop: Argv
  readonly start: Argv
  /** Commands of one `isEnabled`: none on SysV, which reads the rc links. */
  readonly isEnabled: ReadonlyArray<Argv>
}

export const DPKG_QUERY: Argv = ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}\\n", "driveclient"]
export const RPM_QUERY: Argv = ["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", "driveclient"]

export const aptUpdate = (sourcesFile: string): Argv => [
  "apt-get",
  "update",
  "-o",
  `Dir::Etc::sourcelist=${sourcesFile}`,
  "-o",
  "Dir::Etc::sourceparts=-",
  "-o",
  "APT::Get::List-Cleanup=0"
]

/** Every apt transaction's options: wait for dpkg's lock, keep the administrator's conffiles. */
const APT_TRANSACTION = [
  "-o",
  "DPkg::Lock::Timeout=300",
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold"
] as const

export const APT_DOWNLOAD: Argv = [
  "apt-get",
  "install",
  "-y",
  "-d",
  "--no-install-recommends",
  "-o",
  "DPkg::Lock::Timeout=300",
  "driveclient"
]
export const APT_INSTALL: Argv = [
  "apt-get",
  "install",
  "-y",
  "--no-install-recommends",
  ...APT_TRANSACTION,
  "driveclient"
]

export const aptCommands = (sourcesFile = "/etc/apt/sources.list.d/driveclient.list"): PackageCommands => ({
  installedVersion: DPKG_QUERY,
  refresh: [aptUpdate(sourcesFile)],
  candidate: ["apt-cache", "policy", "driveclient"],
  download: () => [APT_DOWNLOAD],
  install: () => [APT_INSTALL],
  isHeld: [APT_SHOWHOLD],
  repairCheck: [DPKG_AUDIT, DPKG_QUERY]
})

export const dnfCommands: PackageCommands = {
  installedVersion: RPM_QUERY,
  refresh: [["dnf", "-y", "makecache", "--refresh", "--repo=drivesrvr"]],
  candidate: [
    "dnf",
    "-q",
    "repoquery",
    "--available",
    "--latest-limit=1",
    "--queryformat=%{version}-%{release}\\n",
    "--repo=drivesrvr",
    "driveclient"
  ],
  download: (installed) => [RPM_QUERY, ["dnf", "-y", installed ? "upgrade" : "install", "--downloadonly", "driveclient"]],
  install: (installed) => [RPM_QUERY, ["dnf", "-y", installed ? "upgrade" : "install", "driveclient"]],
  isHeld: [],
  repairCheck: [RPM_QUERY]
}

export const yumCommands: PackageCommands = {
  installedVersion: RPM_QUERY,
  refresh: [
    ["yum", "-y", "clean", "expire-cache", "--disablerepo=*", "--enablerepo=drivesrvr"],
    ["yum", "-y", "makecache", "--disablerepo=*", "--enablerepo=drivesrvr"]
  ],
  candidate: [
    "yum",
    "-q",
    "list",
    "available",
    "--showduplicates",
    "--disablerepo=*",
    "--enablerepo=drivesrvr",
    "driveclient"
  ],
  download: (installed) => [RPM_QUERY, ["yum", "-y", installed ? "upgrade" : "install", "--downloadonly", "driveclient"]],
  install: (installed) => [RPM_QUERY, ["yum", "-y", installed ? "upgrade" : "install", "driveclient"]],
  isHeld: [],
  repairCheck: [RPM_QUERY]
}

export const packageCommands = (flavor: PackageManagerFlavor): PackageCommands =>
  flavor === "apt" ? aptCommands() : flavor === "dnf" ? dnfCommands : yumCommands

export const systemdCommands: ServiceCommands = {
  status: ["systemctl", "is-active", "--quiet", "driveclient"],
  stop: ["systemctl", "stop", "driveclient"],
  start: ["systemctl", "start", "driveclient"],
  isEnabled: [["systemctl", "is-enabled", "driveclient"]]
}

export const serviceCommands: ServiceCommands = {
  status: ["service", "driveclient", "status"],
  stop: ["service", "driveclient", "stop"],
  start: ["service", "driveclient", "start"],
  isEnabled: []
}

export const initScriptCommands: ServiceCommands = {
  status: ["/etc/init.d/driveclient", "status"],
  stop: ["/etc/init.d/driveclient", "stop"],
  start: ["/etc/init.d/driveclient", "start"],
  isEnabled: []
}

export const aptInstallVersion = (version: string): Argv => [
  "apt-get",
  "install",
  "-y",
  "--no-install-recommends",
  "--allow-downgrades",
  ...APT_TRANSACTION,
  `driveclient=${version}`
]
export const aptReinstallVersion = (version: string): Argv => [
  "apt-get",
  "install",
  "-y",
  "--reinstall",
  "--allow-downgrades",
  "--no-install-recommends",
  ...APT_TRANSACTION,
  `driveclient=${version}`
]
export const APT_SHOWHOLD: Argv = ["apt-mark", "showhold", "driveclient"]
export const DPKG_AUDIT: Argv = ["dpkg", "--audit"]
export const DPKG_CONFIGURE_ALL: Argv = ["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"]
export const APT_FIX_BROKEN: Argv = [
  "apt-get",
  "install",
  "-y",
  "-f",
  "--no-install-recommends",
  ...APT_TRANSACTION
]

export const rpmInstallVersion = (tool: "dnf" | "yum", verb: "install" | "downgrade", version: string): Argv => [
  tool,
  "-y",
  verb,
  `driveclient-${version}`
]
export const DNF_REMOVE_DUPLICATES: Argv = ["dnf", "-y", "remove", "--duplicates", "driveclient"]
export const PACKAGE_CLEANUP_DUPES: Argv = ["package-cleanup", "-y", "--cleandupes"]
export const YUM_COMPLETE_TRANSACTION: Argv = ["yum-complete-transaction", "-y"]

export const SYSTEMCTL_IS_ENABLED: Argv = ["systemctl", "is-enabled", "driveclient"]
