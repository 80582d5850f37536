/**
 * A host held in memory: a package database, the packages its repository
 * offers, the package cache and the updater's kept packages, the agent's process
 * with its backup lock, and a record of what happened. It stands in for
 * apt/dnf, the init system and the file system in `simulate` and in the program
 * tests, and it checks the contract's promises as it goes: it records a
 * violation if the agent is stopped while a backup holds its lock.
 *
 * The host itself is the model in `simulated/HostModel` (shared with the tests'
 * fake command line); here are its services and the handle a test or `simulate`
 * drives it by. Faults are armed in a queue and fire, one at a time in order, at
 * the first matching point of an upgrade: a step that fails, hangs past its
 * timeout, or kills the updater there (kill -9: the step leaves what it had done,
 * and the dead process changes nothing more until `restart`).
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import { FileLock, type FileLockShape } from "../services/FileLock.js"
import { PackageManager, type PackageManagerKind } from "../services/PackageManager.js"
import * as MemoryFileLock from "./MemoryFileLock.js"
import * as HostModel from "./simulated/HostModel.js"
import { type BrokenRelease, type Fault, type HostState, unfinished } from "./simulated/HostState.js"
import * as SimulatedAgentService from "./simulated/SimulatedAgentService.js"
import * as SimulatedPackageManager from "./simulated/SimulatedPackageManager.js"

export type { BrokenRelease, Fault, FaultKind, FaultPoint } from "./simulated/HostState.js"
export type { HostEvent } from "./simulated/HostModel.js"
export { UpdaterKilled } from "./simulated/HostModel.js"

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
  readonly events: Effect.Effect<ReadonlyArray<HostModel.HostEvent>>
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

/** The model's state as this host's users know it. */
const view = (s: HostState): SimulatedHostState => ({
  repositoryConfigured: s.repositoryConfigured,
  installed: s.installed?.version,
  unfinished: unfinished(s),
  agentRunning: s.running,
  agentStartedAt: s.agentStartedAt,
  refreshed: s.refreshed,
  downloaded: s.downloaded,
  offered: s.offered,
  cached: s.cached,
  kept: s.kept,
  failingInstall: s.failures.install,
  faults: s.faults,
  updaterDead: s.updaterDead
})

const initialState = (options: SimulatedHostOptions): Partial<HostState> => ({
  repositoryConfigured: options.repositoryConfigured ?? true,
  installed: options.installed === undefined
    ? undefined
    : { version: options.installed, dpkgState: options.interruptedTransaction === true ? "half-configured" : "installed" },
  running: options.agentRunning ?? options.installed !== undefined,
  offered: options.offered,
  cached: options.cached ?? [],
  kept: options.kept ?? (options.installed === undefined ? [] : [options.installed]),
  held: options.held ?? false,
  unitFileState: options.serviceEnabled === false ? "disabled" : "enabled",
  failures: { install: options.failingInstall, repair: options.failingRepair },
  brokenReleases: {
    ...options.brokenReleases,
    ...Object.fromEntries((options.crashingVersions ?? []).map((version) => [version, "crash" as const]))
  },
  faults: options.faults ?? []
})

/** Every operation of the updater's goes through `asUpdater`, so a killed updater changes nothing more. */
const guarded = <S extends object>(service: S, asUpdater: SimulatedHost["asUpdater"]): S =>
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

export const make = (options: SimulatedHostOptions) =>
  Effect.gen(function*() {
    const kind = options.kind ?? "apt"
    const model = yield* HostModel.make({
      initial: initialState(options),
      hangTime: options.hangTime,
      firstInstallStartsAgent: true,
      logEvents: true
    })
    const locks = yield* MemoryFileLock.make({
      ownPid: UPDATER_PID,
      livePids: (pid) => pid === AGENT_PID || pid === UPDATER_PID,
      commandOf: (pid) => (pid === AGENT_PID ? ["/usr/sbin/driveclient"] : ["node", "/usr/bin/cloudbackup-updater"])
    })

    const host: SimulatedHost = {
      state: Effect.map(model.state, view),
      events: model.events,
      violations: model.violations,
      locks,
      startBackup: (duration) =>
        Effect.gen(function*() {
          yield* locks.holdAs(options.agentLock, AGENT_PID)
          yield* model.record(`agent starts a backup for ${Duration.format(duration)}`)
          yield* Effect.sleep(duration).pipe(
            Effect.zipRight(locks.drop(options.agentLock)),
            Effect.zipRight(model.record("agent finishes its backup")),
            Effect.forkDaemon
          )
        }),
      agentExits: Effect.zipRight(model.update((s) => ({ ...s, running: false })), model.record("agent exited")),
      agentStartedByOthers: Effect.zipRight(
        model.update((s) => ({ ...s, running: true })),
        model.record("agent started by someone else")
      ),
      publish: (packageVersion) =>
        Effect.zipRight(
          model.update((s) => ({ ...s, offered: [...s.offered, packageVersion] })),
          model.record(`the repository now offers ${packageVersion}`)
        ),
      arm: model.arm,
      disarm: model.disarm,
      restart: Effect.gen(function*() {
        // The new process did not take the locks the killed one held: they are left from an
        // earlier process with (in this model) the same pid, as a pid reused after a reboot.
        for (const [path, pid] of yield* locks.held) {
          if (pid !== UPDATER_PID) continue
          const holder = yield* Effect.orDie(locks.holder(path))
          yield* locks.holdAs(path, pid, Option.getOrUndefined(holder)?.modifiedAt)
        }
        yield* model.restartUpdater
        yield* model.record("a new updater process")
      }),
      asUpdater: model.asUpdater
    }

    const packages = SimulatedPackageManager.make(model, {
      kind,
      downloadTime: options.downloadTime ?? Duration.seconds(2),
      transactionTime: options.transactionTime ?? Duration.seconds(1),
      rebuildable: options.rebuildable ?? true
    })
    const agent = SimulatedAgentService.make(model, { locks, agentLock: options.agentLock, updaterPid: UPDATER_PID })
    const fileLock: FileLockShape = guarded<FileLockShape>(locks, model.asUpdater)

    return { host, packages: guarded(packages, model.asUpdater), agent: guarded(agent, model.asUpdater), fileLock }
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
