/**
 * The exact argument vectors the live layers must run, written out by hand so
 * that the tests check the layers rather than repeat them. The fake host's
 * command tables (fakeHost/) are built from these same vectors: a builder called
 * with `HOLE` gives the pattern that any value in its place matches.
 */
export type Argv = readonly [string, ...Array<string>]

export type PackageManagerFlavor = "apt" | "dnf" | "yum" | "zypper"

export interface PackageCommands {
  readonly installedVersion: Argv
  /** Commands of one `configureRepository`: zypper's `rpm --import` of the signing key; none elsewhere. */
  readonly configureRepository: ReadonlyArray<Argv>
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

/** apt's plan for the install, after the download: `Inst`/`Conf` lines, nothing changed. */
export const APT_SIMULATE: Argv = ["apt-get", "install", "-s", "-y", "--no-install-recommends", "driveclient"]
/** apt's configuration, read for hooks around dpkg once the plan is that package alone. */
export const APT_CONFIG_DUMP: Argv = ["apt-config", "dump"]
/** The downloaded archive installed by dpkg itself, when apt's plan is that package alone. */
export const dpkgInstallArchive = (file: string): Argv => ["dpkg", "--force-confdef", "--force-confold", "-i", file]

/** `apt-get update` of every source: what refresh runs when no file holds the agent's entry. */
export const APT_UPDATE_ALL: Argv = ["apt-get", "update"]
export const APT_POLICY: Argv = ["apt-cache", "policy", "driveclient"]

export const aptCommands = (sourcesFile = "/etc/apt/sources.list.d/driveclient.list"): PackageCommands => ({
  installedVersion: DPKG_QUERY,
  configureRepository: [],
  refresh: [aptUpdate(sourcesFile)],
  candidate: APT_POLICY,
  download: () => [APT_DOWNLOAD],
  install: () => [APT_INSTALL],
  isHeld: [APT_SHOWHOLD],
  repairCheck: [DPKG_AUDIT, DPKG_QUERY]
})

export type RpmTool = "dnf" | "yum"
export type RpmVerb = "install" | "upgrade"

export const DNF_MAKECACHE: Argv = ["dnf", "-y", "makecache", "--refresh", "--repo=drivesrvr"]
/** dnf's refresh of every repository. */
export const DNF_MAKECACHE_ALL: Argv = ["dnf", "-y", "makecache", "--refresh"]
export const DNF_REPOQUERY: Argv = [
  "dnf",
  "-q",
  "repoquery",
  "--available",
  "--latest-limit=1",
  "--queryformat=%{version}-%{release}\\n",
  "--repo=drivesrvr",
  "driveclient"
]
export const YUM_EXPIRE_CACHE: Argv = ["yum", "-y", "clean", "expire-cache", "--disablerepo=*", "--enablerepo=drivesrvr"]
export const YUM_MAKECACHE: Argv = ["yum", "-y", "makecache", "--disablerepo=*", "--enablerepo=drivesrvr"]
export const YUM_LIST_AVAILABLE: Argv = [
  "yum",
  "-q",
  "list",
  "available",
  "--showduplicates",
  "--disablerepo=*",
  "--enablerepo=drivesrvr",
  "driveclient"
]

/** dnf's `install` leaves an installed package alone (dnf5), so an installed agent is upgraded. */
export const rpmDownload = (tool: RpmTool, verb: RpmVerb): Argv => [tool, "-y", verb, "--downloadonly", "driveclient"]
export const rpmTransaction = (tool: RpmTool, verb: RpmVerb): Argv => [tool, "-y", verb, "driveclient"]

export const dnfCommands: PackageCommands = {
  installedVersion: RPM_QUERY,
  configureRepository: [],
  refresh: [DNF_MAKECACHE],
  candidate: DNF_REPOQUERY,
  download: (installed) => [RPM_QUERY, rpmDownload("dnf", installed ? "upgrade" : "install")],
  install: (installed) => [RPM_QUERY, rpmTransaction("dnf", installed ? "upgrade" : "install")],
  isHeld: [],
  repairCheck: [RPM_QUERY]
}

export const yumCommands: PackageCommands = {
  installedVersion: RPM_QUERY,
  configureRepository: [],
  refresh: [YUM_EXPIRE_CACHE, YUM_MAKECACHE],
  candidate: YUM_LIST_AVAILABLE,
  download: (installed) => [RPM_QUERY, rpmDownload("yum", installed ? "upgrade" : "install")],
  install: (installed) => [RPM_QUERY, rpmTransaction("yum", installed ? "upgrade" : "install")],
  isHeld: [],
  repairCheck: [RPM_QUERY]
}

const ZYPPER = ["zypper", "--non-interactive"] as const

/** Where the zypper layer leaves the repository's signing key, checked, for `rpm --import`. */
export const ZYPPER_KEY_FILE = "/var/lib/cloudbackup-updater/drivesrvr-signing-key.asc"
export const rpmImport = (keyFile: string): Argv => ["rpm", "--import", keyFile]
export const ZYPPER_REFRESH: Argv = [...ZYPPER, "refresh", "--repo", "drivesrvr"]
/** A refresh refused for a rotated signing key: the key fetched again and imported, the refresh retried once. */
export const ZYPPER_REFRESH_WITH_ROTATED_KEY: ReadonlyArray<Argv> = [ZYPPER_REFRESH, rpmImport(ZYPPER_KEY_FILE), ZYPPER_REFRESH]
export const ZYPPER_SEARCH: Argv = [
  ...ZYPPER,
  "--xmlout",
  "search",
  "--details",
  "--match-exact",
  "--repo",
  "drivesrvr",
  "--type",
  "package",
  "driveclient"
]
/** zypper's `install` of an installed package upgrades it to the newest offered. */
export const ZYPPER_DOWNLOAD: Argv = [...ZYPPER, "install", "--download-only", "driveclient"]
export const ZYPPER_INSTALL: Argv = [...ZYPPER, "install", "driveclient"]
export const ZYPPER_LOCKS: Argv = [...ZYPPER, "--xmlout", "locks"]
/** Exactly one version, downgrading if need be (without `--oldpackage` zypper says "Nothing to do"). */
export const zypperInstallVersion = (version: string): Argv => [...ZYPPER, "install", "--oldpackage", `driveclient-${version}`]
/** A package file installed by path: the rollback's restore. */
export const zypperInstallFile = (file: string): Argv => [...ZYPPER, "install", "--oldpackage", file]
/** The installed version fetched into zypper's package cache, to secure it for a rollback. */
export const zypperDownloadVersion = (version: string): Argv => [
  ...ZYPPER,
  "install",
  "--download-only",
  "--force",
  "--oldpackage",
  "--repo",
  "drivesrvr",
  `driveclient-${version}`
]
/** One installed version removed (the older of two an interrupted upgrade left). */
export const zypperRemoveVersion = (version: string): Argv => [...ZYPPER, "remove", `driveclient-${version}`]

export const zypperCommands: PackageCommands = {
  installedVersion: RPM_QUERY,
  configureRepository: [rpmImport(ZYPPER_KEY_FILE)],
  refresh: [ZYPPER_REFRESH],
  candidate: ZYPPER_SEARCH,
  download: () => [ZYPPER_DOWNLOAD],
  install: () => [ZYPPER_INSTALL],
  isHeld: [ZYPPER_LOCKS],
  repairCheck: [RPM_QUERY]
}

export const packageCommands = (flavor: PackageManagerFlavor): PackageCommands =>
  flavor === "apt" ? aptCommands() : flavor === "dnf" ? dnfCommands : flavor === "yum" ? yumCommands : zypperCommands

export const SYSTEMCTL_IS_ACTIVE: Argv = ["systemctl", "is-active", "--quiet", "driveclient"]
export const SYSTEMCTL_IS_ENABLED: Argv = ["systemctl", "is-enabled", "driveclient"]
export const SYSTEMCTL_MAIN_PID: Argv = ["systemctl", "show", "--property=MainPID", "driveclient"]

export const systemdCommands: ServiceCommands = {
  status: SYSTEMCTL_IS_ACTIVE,
  stop: ["systemctl", "stop", "driveclient"],
  start: ["systemctl", "start", "driveclient"],
  isEnabled: [SYSTEMCTL_IS_ENABLED]
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

/** `apt-get install` of exactly one version or one package file, downgrading if need be. */
export const aptInstallExactly = (what: string): Argv => [
  "apt-get",
  "install",
  "-y",
  "--no-install-recommends",
  "--allow-downgrades",
  ...APT_TRANSACTION,
  what
]
export const aptInstallVersion = (version: string): Argv => aptInstallExactly(`driveclient=${version}`)
/** The installed version fetched from the repository, to secure it for a rollback. */
export const aptDownloadVersion = (version: string): Argv => [
  "apt-get",
  "install",
  "-y",
  "-d",
  "--reinstall",
  "--allow-downgrades",
  "--no-install-recommends",
  "-o",
  "DPkg::Lock::Timeout=300",
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

export const rpmInstallVersion = (tool: RpmTool, verb: "install" | "downgrade", version: string): Argv => [
  tool,
  "-y",
  verb,
  `driveclient-${version}`
]
/** A package file installed by path: the rollback's restore. */
export const rpmInstallFile = (tool: RpmTool, verb: "install" | "downgrade", file: string): Argv => [tool, "-y", verb, file]
/** The installed version fetched from the repository into `dir`, to secure it for a rollback. */
export const rpmDownloadVersion = (tool: RpmTool, dir: string, version: string): Argv => [
  tool,
  "-y",
  "reinstall",
  "--downloadonly",
  `--downloaddir=${dir}`,
  `driveclient-${version}`
]
export const DNF_REMOVE_DUPLICATES: Argv = ["dnf", "-y", "remove", "--duplicates", "driveclient"]
export const PACKAGE_CLEANUP_DUPES: Argv = ["package-cleanup", "-y", "--cleandupes"]
export const YUM_COMPLETE_TRANSACTION: Argv = ["yum-complete-transaction", "-y"]

/** `dpkg-deb --build DIR OUT`: a deb rebuilt from the installed files (dpkg-repack's way). */
export const dpkgDebBuild = (dir: string, out: string): Argv => ["dpkg-deb", "--build", dir, out]

/** Stands for any value in an argument vector built by the functions above: the fake host's patterns. */
export const HOLE = "\u0000"
