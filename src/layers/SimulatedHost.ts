/**
 * A host held in memory: a package database, the packages its repository
 * offers, the package cache and the updater's kept packages, the agent's process
 * with its backup lock, and a record of what happened. It stands in for
 * apt/dnf, the init system and the file system in `simulate` and in the program
 * tests, and it checks the contract's promises as it goes: it records a
 * violation if the agent is stopped while a backup holds its lock.
 *
 * Faults are armed in a queue and fire, one at a time in order, at the first
 * matching point of an upgrade: a step that fails, hangs past its timeout, or
 * kills the updater there (kill -9: the step leaves what it had done, and the
 * dead process changes nothing more until `restart`).
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { compareUpstream, upstreamOf } from "../domain/Version.js"
import { AgentService, AgentServiceError } from "../services/AgentService.js"
import { FileLock, type FileLockService } from "../services/FileLock.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerKind,
  type RepositoryState,
  type SecuredPackage
} from "../services/PackageManager.js"
import * as MemoryFileLock from "./MemoryFileLock.js"

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

export interface SimulatedHostOptions {
  readonly kind?: PackageManagerKind
  /** Full package version of the installed agent; none when it is not installed. */
  readonly installed?: string | undefined
  readonly agentRunning?: boolean
  readonly repositoryConfigured?: boolean
  /** Package versions the agent repository offers (`1.2.0-1`). */
  readonly offered: ReadonlyArray<string>
  readonly agentLock: string
  readonly downloadTime?: Duration.DurationInput
  readonly transactionTime?: Duration.DurationInput
  /** Makes the next install transaction fail with this package manager error. */
  readonly failingInstall?: string | undefined
  /** Package versions whose agent exits right after it is started. */
  readonly crashingVersions?: ReadonlyArray<string>
  /** Package versions that fail the same way every time. */
  readonly brokenReleases?: Readonly<Record<string, BrokenRelease>>
  /** The administrator holds the package at its version. */
  readonly held?: boolean
  /** The agent's service is enabled (starts at boot); true by default. */
  readonly serviceEnabled?: boolean
  /** A transaction was interrupted: the package database needs repair. */
  readonly interruptedTransaction?: boolean
  /** The repair of an interrupted transaction fails with this package manager error. */
  readonly failingRepair?: string | undefined
  /** Versions among the updater's kept packages; the installed one by default. */
  readonly kept?: ReadonlyArray<string>
  /** Versions in the package manager's cache; none by default. */
  readonly cached?: ReadonlyArray<string>
  /** Whether an installed, finished deb can be rebuilt from its files; apt only, true by default. */
  readonly rebuildable?: boolean
  /** Faults that fire in this order, each once. */
  readonly faults?: ReadonlyArray<Fault>
  /** How long a hung step runs before it is killed (the live layers' transaction timeout). */
  readonly hangTime?: Duration.DurationInput
}

export interface HostEvent {
  readonly at: number
  readonly what: string
}

export interface SimulatedHostState {
  readonly repositoryConfigured: boolean
  /** The agent's version in the package database (also when left half-way). */
  readonly installed: string | undefined
  /** A transaction left the package half-way (dpkg's half-installed/half-configured; two rpms). */
  readonly unfinished: boolean
  readonly agentRunning: boolean
  /** When the running agent's process started (Clock time); none when unknown or not running. */
  readonly agentStartedAt: number | undefined
  readonly refreshed: boolean
  readonly downloaded: string | undefined
  readonly offered: ReadonlyArray<string>
  readonly cached: ReadonlyArray<string>
  readonly kept: ReadonlyArray<string>
  readonly failingInstall: string | undefined
  readonly faults: ReadonlyArray<Fault>
  /** The updater process was killed: what it does changes nothing until `restart`. */
  readonly updaterDead: boolean
}

export const AGENT_PID = 4242
export const UPDATER_PID = 5151

export interface SimulatedHost {
  readonly state: Effect.Effect<SimulatedHostState>
  readonly events: Effect.Effect<ReadonlyArray<HostEvent>>
  /** Contract violations seen so far; a correct updater leaves this empty. */
  readonly violations: Effect.Effect<ReadonlyArray<string>>
  /** The agent starts a backup: it holds its lock for `duration` (of Clock time). */
  readonly startBackup: (duration: Duration.DurationInput) => Effect.Effect<void>
  readonly publish: (packageVersion: string) => Effect.Effect<void>
  /** The agent's process ends by itself (a crash, or an administrator's kill). */
  readonly agentExits: Effect.Effect<void>
  /** Someone else starts the agent (an administrator, or the init system). */
  readonly agentStartedByOthers: Effect.Effect<void>
  /** Arms more faults, after those already armed. */
  readonly arm: (faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  /** Drops the armed faults that have not fired yet, and returns them. */
  readonly disarm: Effect.Effect<ReadonlyArray<Fault>>
  /** A new updater process after a kill: the host obeys it again. */
  readonly restart: Effect.Effect<void>
  /** Runs `effect` as the updater: once the updater is dead, it dies instead and changes nothing. */
  readonly asUpdater: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly locks: MemoryFileLock.MemoryFileLock
}

/** The defect a killed updater's every later step dies with. */
export class UpdaterKilled extends Error {
  constructor(readonly at?: FaultPoint) {
    super(at === undefined ? "the updater was killed" : `the updater was killed at ${at}`)
  }
}

const newest = (versions: ReadonlyArray<string>): string | undefined =>
  [...versions].sort((a, b) => compareUpstream(upstreamOf(a), upstreamOf(b))).at(-1)

const TRANSACTION_ERROR = "E: Sub-process /usr/bin/dpkg returned an error code (1)"

export const make = (options: SimulatedHostOptions) =>
  Effect.gen(function*() {
    const kind = options.kind ?? "apt"
    const state = yield* Ref.make<SimulatedHostState>({
      repositoryConfigured: options.repositoryConfigured ?? true,
      installed: options.installed,
      unfinished: options.interruptedTransaction ?? false,
      agentRunning: options.agentRunning ?? options.installed !== undefined,
      agentStartedAt: undefined,
      refreshed: false,
      downloaded: undefined,
      offered: options.offered,
      cached: options.cached ?? [],
      kept: options.kept ?? (options.installed === undefined ? [] : [options.installed]),
      failingInstall: options.failingInstall,
      faults: options.faults ?? [],
      updaterDead: false
    })
    const events = yield* Ref.make<ReadonlyArray<HostEvent>>([])
    const violations = yield* Ref.make<ReadonlyArray<string>>([])
    const locks = yield* MemoryFileLock.make({
      ownPid: UPDATER_PID,
      livePids: (pid) => pid === AGENT_PID || pid === UPDATER_PID,
      commandOf: (pid) => (pid === AGENT_PID ? ["/usr/sbin/driveclient"] : ["node", "/usr/bin/cloudbackup-updater"])
    })
    const transactionTime = options.transactionTime ?? Duration.seconds(1)
    const downloadTime = options.downloadTime ?? Duration.seconds(2)
    const hangTime = options.hangTime ?? Duration.minutes(30)
    const brokenAs = (version: string | undefined): BrokenRelease | undefined =>
      version === undefined
        ? undefined
        : (options.crashingVersions ?? []).includes(version)
        ? "crash"
        : options.brokenReleases?.[version]

    const record = (what: string) =>
      Effect.gen(function*() {
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        yield* Ref.update(events, (list) => [...list, { at, what }])
        yield* Effect.logInfo(`host: ${what}`)
      })
    const violate = (what: string) => Effect.zipRight(record(`VIOLATION: ${what}`), Ref.update(violations, (v) => [...v, what]))
    const set = (f: (s: SimulatedHostState) => SimulatedHostState) => Ref.update(state, f)

    const asUpdater = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.flatMap(Ref.get(state), (s) => (s.updaterDead ? Effect.die(new UpdaterKilled()) : effect))

    /** The armed fault at `point`, consumed; a kill marks the updater dead. */
    const faultAt = (point: FaultPoint) =>
      Effect.gen(function*() {
        const fault = yield* Ref.modify(state, (s): readonly [Fault | undefined, SimulatedHostState] => {
          const head = s.faults[0]
          return head?.at === point ? [head, { ...s, faults: s.faults.slice(1) }] : [undefined, s]
        })
        if (fault !== undefined) yield* record(`fault: ${fault.kind} at ${point}`)
        return fault?.kind
      })

    /**
     * Applies a fault at `point` to a step: `fail` and `hang` fail it with `error` (a hang after
     * the step's timeout); `kill` leaves the host as `leave` says and ends the updater.
     */
    const step = <E>(point: FaultPoint, error: () => E, leave: Effect.Effect<void> = Effect.void) =>
      Effect.gen(function*() {
        const fault = yield* faultAt(point)
        if (fault === undefined) return
        if (fault === "hang") yield* Effect.sleep(hangTime)
        if (fault === "kill") {
          yield* leave
          yield* set((s) => ({ ...s, updaterDead: true }))
          return yield* Effect.die(new UpdaterKilled(point))
        }
        return yield* Effect.fail(error())
      })

    const pmError = (operation: string, detail: string) => () => new PackageManagerError({ operation, detail })

    const host: SimulatedHost = {
      state: Ref.get(state),
      events: Ref.get(events),
      violations: Ref.get(violations),
      locks,
      startBackup: (duration) =>
        Effect.gen(function*() {
          yield* locks.holdAs(options.agentLock, AGENT_PID)
          yield* record(`agent starts a backup for ${Duration.format(duration)}`)
          yield* Effect.sleep(duration).pipe(
            Effect.zipRight(locks.drop(options.agentLock)),
            Effect.zipRight(record("agent finishes its backup")),
            Effect.forkDaemon
          )
        }),
      agentExits: Effect.zipRight(set((s) => ({ ...s, agentRunning: false })), record("agent exited")),
      agentStartedByOthers: Effect.zipRight(set((s) => ({ ...s, agentRunning: true })), record("agent started by someone else")),
      publish: (packageVersion) =>
        Effect.zipRight(
          set((s) => ({ ...s, offered: [...s.offered, packageVersion] })),
          record(`the repository now offers ${packageVersion}`)
        ),
      arm: (faults) => set((s) => ({ ...s, faults: [...s.faults, ...faults] })),
      disarm: Ref.modify(state, (s) => [s.faults, { ...s, faults: [] }]),
      restart: Effect.gen(function*() {
        // The new process did not take the locks the killed one held: they are left from an
        // earlier process with (in this model) the same pid, as a pid reused after a reboot.
        for (const [path, pid] of yield* locks.held) {
          if (pid !== UPDATER_PID) continue
          const holder = yield* Effect.orDie(locks.holder(path))
          yield* locks.holdAs(path, pid, Option.getOrUndefined(holder)?.modifiedAt)
        }
        yield* set((s) => ({ ...s, updaterDead: false }))
        yield* record("a new updater process")
      }),
      asUpdater
    }

    const repositoryState = Effect.map(Ref.get(state), (s): RepositoryState =>
        s.repositoryConfigured
          ? { _tag: "Configured", file: kind === "apt" ? "/etc/apt/sources.list.d/driveclient.list" : "/etc/yum.repos.d/drivesrvr.repo" }
          : { _tag: "Missing" })

    const requireRefreshed = (operation: string) =>
      Effect.flatMap(Ref.get(state), (s) =>
        s.repositoryConfigured && s.refreshed
          ? Effect.succeed(s)
          : Effect.fail(new PackageManagerError({ operation, detail: "Unable to locate package driveclient" })))

    const installExactly = (operation: string, version: string) =>
      Effect.gen(function*() {
        const s = yield* requireRefreshed(operation)
        if (!s.offered.includes(version)) {
          return yield* Effect.fail(
            new PackageManagerError({ operation, detail: `E: Version '${version}' for 'driveclient' was not found` })
          )
        }
        yield* record(`transaction: install driveclient ${version}`)
        yield* Effect.sleep(transactionTime)
        yield* set((current) => ({ ...current, installed: version, unfinished: false }))
        yield* record(`driveclient ${version} installed`)
      })

    /** The package's own scripts: preinst before unpacking, postinst after; a failure leaves dpkg's half-way states. */
    const transaction = (target: string) =>
      Effect.gen(function*() {
        const before = yield* Ref.get(state)
        const broken = brokenAs(target)
        yield* step("preinst", pmError("install", TRANSACTION_ERROR), set((s) => ({ ...s, unfinished: true })))
        if (broken === "preinst") {
          yield* record(`the preinst of ${target} failed`)
          return yield* Effect.fail(new PackageManagerError({ operation: "install", detail: TRANSACTION_ERROR }))
        }
        yield* set((s) => ({ ...s, installed: target, unfinished: true }))
        yield* step("postinst", pmError("install", TRANSACTION_ERROR))
        if (broken === "postinst") {
          yield* record(`the postinst of ${target} failed`)
          return yield* Effect.fail(new PackageManagerError({ operation: "install", detail: TRANSACTION_ERROR }))
        }
        // A first install starts the agent, as the agent package's own scripts do.
        const firstInstall = before.installed === undefined
        yield* set((s) => ({ ...s, unfinished: false, downloaded: undefined }))
        yield* record(`driveclient ${target} installed${firstInstall ? "; its package starts the agent" : ""}`)
        if (firstInstall) yield* startAgent.pipe(Effect.catchAll((error) => record(error.message)))
      })

    const packages = PackageManager.of({
      kind,
      repositoryState,
      configureRepository: Effect.zipRight(
        set((s) => ({ ...s, repositoryConfigured: true })),
        record(`repository configured (${kind === "apt" ? "apt source and key" : "repo file"})`)
      ),
      installedVersion: Effect.map(Ref.get(state), (s) => Option.fromNullable(s.installed)),
      installedState: Effect.map(Ref.get(state), (s) =>
        Option.map(Option.fromNullable(s.installed), (version) => ({ version, unfinished: s.unfinished }))),
      refresh: Effect.zipRight(set((s) => ({ ...s, refreshed: true })), record("package metadata refreshed")),
      // Like `apt-cache policy`: no candidate before the repository's metadata has been fetched.
      candidateVersion: Effect.map(Ref.get(state), (s) =>
        s.repositoryConfigured && s.refreshed ? Option.fromNullable(newest(s.offered)) : Option.none()),
      download: Effect.gen(function*() {
        const s = yield* requireRefreshed("download")
        const target = newest(s.offered)!
        yield* step("download", pmError("apt-get install -d", `E: Failed to fetch driveclient ${target}`))
        yield* Effect.sleep(downloadTime)
        yield* set((current) => ({ ...current, downloaded: target, cached: [...current.cached, target] }))
        yield* record(`downloaded driveclient ${target}`)
      }),
      install: Effect.gen(function*() {
        const s = yield* requireRefreshed("install")
        const target = newest(s.offered)!
        if (s.installed === target && !s.unfinished) return
        yield* record(`transaction: install driveclient ${target}${s.downloaded === target ? " (from cache)" : ""}`)
        if (s.downloaded !== target) yield* Effect.sleep(downloadTime)
        yield* Effect.sleep(transactionTime)
        if (s.failingInstall !== undefined) {
          yield* set((current) => ({ ...current, failingInstall: undefined }))
          yield* record(`transaction failed: ${s.failingInstall}`)
          return yield* Effect.fail(new PackageManagerError({ operation: "install", detail: s.failingInstall }))
        }
        yield* set((current) => ({ ...current, cached: [...current.cached, target] }))
        yield* transaction(target)
      }),
      installVersion: (version) => installExactly("install a version", version),
      securePackage: (version) =>
        Effect.gen(function*() {
          const none = yield* step("secure", pmError("secure", "")).pipe(Effect.as(false), Effect.catchTag("PackageManagerError", () => Effect.succeed(true)))
          const s = yield* Ref.get(state)
          const secured = (source: SecuredPackage["source"]) =>
            Effect.as(
              Effect.zipRight(
                set((current) => ({ ...current, kept: current.kept.includes(version) ? current.kept : [...current.kept, version] })),
                record(`secured driveclient ${version} (${source})`)
              ),
              Option.some<SecuredPackage>({ source, file: `/var/lib/cloudbackup-updater/packages/driveclient_${version}.pkg` })
            )
          if (s.kept.includes(version)) return yield* secured("kept")
          if (none) return Option.none()
          if (s.offered.includes(version)) return yield* secured("repository")
          if (s.cached.includes(version)) return yield* secured("cache")
          if (kind === "apt" && (options.rebuildable ?? true) && s.installed === version && !s.unfinished) {
            return yield* secured("rebuilt")
          }
          return Option.none()
        }),
      keepPackages: (versions) =>
        set((s) => ({
          ...s,
          kept: versions.filter((version) => s.kept.includes(version) || s.cached.includes(version))
        })),
      restore: (secured, version) =>
        Effect.gen(function*() {
          const s = yield* Ref.get(state)
          if (!s.kept.includes(version)) {
            return yield* new PackageManagerError({ operation: `install ${secured.file}`, detail: `${secured.file}: no such file` })
          }
          if (s.installed === version && !s.unfinished) return
          yield* record(`transaction: restore driveclient ${version} from ${secured.source}`)
          yield* step("restore", pmError(`install ${secured.file}`, TRANSACTION_ERROR), set((current) => ({ ...current, unfinished: true })))
          yield* Effect.sleep(transactionTime)
          yield* set((current) => ({ ...current, installed: version, unfinished: false }))
          yield* record(`driveclient ${version} restored`)
        }),
      isHeld: Effect.succeed(options.held ?? false),
      repair: Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (!s.unfinished) return Option.none()
        yield* step("repair", pmError("dpkg --configure -a", "dpkg: error processing package driveclient (--configure)"))
        if (options.failingRepair !== undefined || brokenAs(s.installed) === "postinst") {
          const detail = options.failingRepair ?? `dpkg: error processing package driveclient (--configure)`
          yield* record(`repair failed: ${detail}`)
          return yield* Effect.fail(new PackageManagerError({ operation: "repair", detail }))
        }
        yield* set((current) => ({ ...current, unfinished: false }))
        yield* record("interrupted transaction repaired")
        return Option.some("dpkg --configure -a")
      })
    })

    const agentFailure = (operation: "stop" | "start", detail: string) => () => new AgentServiceError({ operation, detail })

    const startAgent = Effect.gen(function*() {
      const s = yield* Ref.get(state)
      if (s.installed === undefined) {
        return yield* Effect.fail(new AgentServiceError({ operation: "start", detail: "driveclient is not installed" }))
      }
      yield* step("start", agentFailure("start", "Job for driveclient.service failed"))
      if (brokenAs(s.installed) === "start") {
        yield* record(`agent ${s.installed} failed to start`)
        return yield* Effect.fail(new AgentServiceError({ operation: "start", detail: "Job for driveclient.service failed" }))
      }
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* set((current) => ({ ...current, agentRunning: true, agentStartedAt: now }))
      yield* record(`agent ${s.installed} started`)
      const health = yield* faultAt("health")
      if ((health !== undefined && health !== "kill") || brokenAs(s.installed) === "crash") {
        yield* Effect.sleep(Duration.seconds(2)).pipe(
          Effect.zipRight(set((current) => ({ ...current, agentRunning: false }))),
          Effect.zipRight(record(`agent ${s.installed} exited`)),
          Effect.forkDaemon
        )
      }
      if (health === "kill") {
        // Killed while it watches the agent it started, which runs on.
        yield* set((current) => ({ ...current, updaterDead: true }))
        return yield* Effect.die(new UpdaterKilled("health"))
      }
    })

    const agent = AgentService.of({
      kind: "systemd",
      isRunning: Effect.map(Ref.get(state), (s) => s.agentRunning),
      startedAt: Effect.map(Ref.get(state), (s) => (s.agentRunning ? Option.fromNullable(s.agentStartedAt) : Option.none())),
      isEnabled: Effect.succeed(options.serviceEnabled ?? true),
      stop: Effect.gen(function*() {
        const held = yield* locks.held
        const holder = held.get(options.agentLock)
        if (holder !== undefined && holder !== UPDATER_PID) {
          yield* violate(`agent stopped while pid ${holder} holds ${options.agentLock}`)
        }
        yield* step("stop", agentFailure("stop", "Job for driveclient.service canceled"), set((s) => ({ ...s, agentRunning: false })))
        yield* set((s) => ({ ...s, agentRunning: false }))
        yield* record("agent stopped")
      }),
      start: startAgent
    })

    /** Every operation of the updater's goes through `asUpdater`, so a killed updater changes nothing more. */
    const guarded = <S extends object>(service: S): S =>
      Object.fromEntries(
        Object.entries(service).map(([name, value]) => [
          name,
          Effect.isEffect(value)
            ? asUpdater(value as Effect.Effect<unknown, unknown, never>)
            : typeof value === "function"
            ? (...args: Array<unknown>) => {
              const result = (value as (...a: Array<unknown>) => unknown)(...args)
              return Effect.isEffect(result) ? asUpdater(result as Effect.Effect<unknown, unknown, never>) : result
            }
            : value
        ])
      ) as S

    const fileLock: FileLockService = guarded<FileLockService>(locks)

    return { host, packages: guarded(packages), agent: guarded(agent), fileLock }
  })

export class SimulatedHostTag extends Context.Tag("cloudbackup-updater/SimulatedHost")<SimulatedHostTag, SimulatedHost>() {}

/** The simulated host's services, plus the host itself for inspection. */
export const layer = (
  options: SimulatedHostOptions
): Layer.Layer<PackageManager | AgentService | FileLock | SimulatedHostTag> =>
  Layer.effectContext(
    Effect.map(make(options), ({ agent, fileLock, host, packages }) =>
      Context.make(PackageManager, packages).pipe(
        Context.add(AgentService, agent),
        Context.add(FileLock, fileLock),
        Context.add(SimulatedHostTag, host)
      ))
  )
