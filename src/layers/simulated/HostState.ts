/**
 * The state of a simulated host — its agent repository, package database,
 * package files, the agent's service, and what is armed to go wrong — and the
 * pure questions asked of it. One shape for the simulated services and for the
 * tests' fake command line.
 */
import { compareUpstream, upstreamOf } from "../../domain/Version.js"

/** dpkg's words for where a package is; an rpm package is only ever `installed` (a half-way rpm upgrade leaves a `duplicate`). */
export type DpkgState =
  | "installed"
  | "config-files"
  | "not-installed"
  | "half-installed"
  | "unpacked"
  | "half-configured"
  | "triggers-awaited"
  | "triggers-pending"

/** dpkg states an interrupted dpkg run leaves behind. */
export const UNFINISHED: ReadonlySet<DpkgState> = new Set<DpkgState>([
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending"
])

export interface InstalledPackage {
  readonly version: string
  readonly dpkgState: DpkgState
}

/** Where in an upgrade a fault can be armed. */
export type FaultPoint =
  | "download"
  | "secure"
  | "stop"
  | "preinst"
  | "postinst"
  | "start"
  | "health"
  | "restore"
  | "repair"

/**
 * `fail`: the step fails (a maintainer script exits non-zero, a command errs; at `secure`,
 * no package of the installed version can be had; at `health`, the started agent dies);
 * `hang`: it runs past its timeout and is killed (at `health`, which has no step of its own
 * to hang, the same as `fail`); `kill`: the updater is killed there (at `health`, once the
 * agent it started runs: while it watches it).
 */
export type FaultKind = "fail" | "hang" | "kill"

export interface Fault {
  readonly at: FaultPoint
  readonly kind: FaultKind
}

/** What a published version does wrong every time (a bad release). */
export type BrokenRelease = "preinst" | "postinst" | "start" | "crash"

/** Failures that happen every time, each given as the last line of the failing tool's error output. */
export interface HostFailures {
  readonly refresh?: string | undefined
  readonly download?: string | undefined
  /** The upgrade transaction fails before it changes anything. */
  readonly install?: string | undefined
  /** Installing one exact version (the rollback): apt-get install driveclient=V, dnf/yum downgrade. */
  readonly rollback?: string | undefined
  /** `dpkg --configure -a`. */
  readonly configure?: string | undefined
  /** Finishing what an interrupted transaction left: apt-get install -f, removing an rpm duplicate. */
  readonly repair?: string | undefined
  readonly stop?: string | undefined
  readonly start?: string | undefined
  /** The agent's service fails to start while this version is installed (a bad release). */
  readonly startOf?: string | undefined
  /**
   * The upgrade's postinst fails: apt leaves the new version half-configured, rpm leaves both
   * versions installed; the line is the package manager's error.
   */
  readonly postinst?: string | undefined
}

export interface HostState {
  readonly repositoryConfigured: boolean
  /** Package versions the agent repository offers (`1.2.0-1`, `1.2.0-1.el9`). */
  readonly offered: ReadonlyArray<string>
  /** Whether the package manager has fetched the repository's metadata: only then does it see `offered`. */
  readonly refreshed: boolean
  /** yum: `clean expire-cache` was run, so the next `makecache` fetches. */
  readonly expired: boolean
  /** The agent in the package database; none when it is not installed. */
  readonly installed: InstalledPackage | undefined
  /** rpm: a second installed version, as an interrupted upgrade leaves it. */
  readonly duplicate: string | undefined
  /** The administrator holds the package at its version. */
  readonly held: boolean
  /** What `dpkg --audit` reports about other packages; finishing interrupted transactions clears it. */
  readonly dpkgAudit: string
  /** The version downloaded for the coming upgrade, waiting in the package cache. */
  readonly downloaded: string | undefined
  /** Versions in the package manager's cache. */
  readonly cached: ReadonlyArray<string>
  /** Versions among the updater's kept packages. */
  readonly kept: ReadonlyArray<string>
  readonly running: boolean
  /** When the running agent's process started (Clock time); none when unknown. */
  readonly agentStartedAt: number | undefined
  /** The agent's unit file state, as `systemctl is-enabled` prints it: `enabled`, `disabled`, `masked`... */
  readonly unitFileState: string
  readonly failures: HostFailures
  readonly brokenReleases: Readonly<Record<string, BrokenRelease>>
  /** Faults that fire in this order, each once. */
  readonly faults: ReadonlyArray<Fault>
  /** The updater process was killed: what it does changes nothing until it is restarted. */
  readonly updaterDead: boolean
}

export const initialState = (init: Partial<HostState>): HostState => ({
  repositoryConfigured: true,
  offered: [],
  refreshed: false,
  expired: false,
  installed: undefined,
  duplicate: undefined,
  held: false,
  dpkgAudit: "",
  downloaded: undefined,
  cached: [],
  kept: [],
  running: false,
  agentStartedAt: undefined,
  unitFileState: "enabled",
  failures: {},
  brokenReleases: {},
  faults: [],
  updaterDead: false,
  ...init
})

/** Orders full package versions (`1.2.0-1.el9`) by their upstream part, then by revision. */
export const compareVersions = (a: string, b: string): number =>
  compareUpstream(upstreamOf(a), upstreamOf(b)) || a.localeCompare(b, "en", { numeric: true })

export const newest = (versions: ReadonlyArray<string>): string | undefined => [...versions].sort(compareVersions).at(-1)

/** Whether the agent's files are on the host (not removed, nor only its configuration left). */
export const agentPresent = (state: HostState): boolean =>
  state.installed !== undefined && !["config-files", "not-installed"].includes(state.installed.dpkgState)

/** The installed agent's version, when its files are on the host. */
export const presentVersion = (state: HostState): string | undefined =>
  agentPresent(state) ? state.installed!.version : undefined

/** A transaction left the agent half-way: a dpkg state short of installed, or two rpm versions. */
export const unfinished = (state: HostState): boolean =>
  (state.installed !== undefined && UNFINISHED.has(state.installed.dpkgState)) || state.duplicate !== undefined

/** What the package manager sees of the repository: nothing before its metadata is fetched. */
export const visibleOffers = (state: HostState): ReadonlyArray<string> => (state.refreshed ? state.offered : [])

/** The version an upgrade goes to: the newest offered one the package manager sees. */
export const upgradeTarget = (state: HostState): string | undefined => newest(visibleOffers(state))

/** apt's candidate: the newest version it knows of, the installed one included (apt does not downgrade). */
export const aptCandidate = (state: HostState): string | undefined =>
  newest([...visibleOffers(state), ...(agentPresent(state) ? [state.installed!.version] : [])])

/** Why starting the agent fails while `version` is installed; none when it starts. */
export const startFailure = (state: HostState, version: string | undefined): "failure" | "broken" | undefined =>
  state.failures.start !== undefined
    ? "failure"
    : version !== undefined && (state.failures.startOf === version || state.brokenReleases[version] === "start")
    ? "broken"
    : undefined
