/**
 * A host held in memory: a package database, the packages its repository
 * offers, the agent's process with its backup lock, and a record of what
 * happened. It stands in for apt/dnf, the init system and the file system in
 * `simulate` and in the program tests, and it checks the contract's promises
 * as it goes: it records a violation if the agent is stopped while a backup
 * holds its lock.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { AgentService, AgentServiceError } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import {
  PackageManager,
  PackageManagerError,
  type PackageManagerKind,
  type RepositoryState
} from "../services/PackageManager.js"
import { compareUpstream, upstreamOf } from "../domain/Version.js"
import * as MemoryFileLock from "./MemoryFileLock.js"

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
  /** The administrator holds the package at its version. */
  readonly held?: boolean
  /** The agent's service is enabled (starts at boot); true by default. */
  readonly serviceEnabled?: boolean
  /** A transaction was interrupted: the package database needs repair. */
  readonly interruptedTransaction?: boolean
  /** The repair of an interrupted transaction fails with this package manager error. */
  readonly failingRepair?: string | undefined
}

export interface HostEvent {
  readonly at: number
  readonly what: string
}

export interface SimulatedHostState {
  readonly repositoryConfigured: boolean
  readonly installed: string | undefined
  readonly agentRunning: boolean
  readonly refreshed: boolean
  readonly downloaded: string | undefined
  readonly offered: ReadonlyArray<string>
  readonly failingInstall: string | undefined
  readonly interruptedTransaction: boolean
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
  readonly locks: MemoryFileLock.MemoryFileLock
}

const newest = (versions: ReadonlyArray<string>): string | undefined =>
  [...versions].sort((a, b) => compareUpstream(upstreamOf(a), upstreamOf(b))).at(-1)

export const make = (options: SimulatedHostOptions) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<SimulatedHostState>({
      repositoryConfigured: options.repositoryConfigured ?? true,
      installed: options.installed,
      agentRunning: options.agentRunning ?? options.installed !== undefined,
      refreshed: false,
      downloaded: undefined,
      offered: options.offered,
      failingInstall: options.failingInstall,
      interruptedTransaction: options.interruptedTransaction ?? false
    })
    const events = yield* Ref.make<ReadonlyArray<HostEvent>>([])
    const violations = yield* Ref.make<ReadonlyArray<string>>([])
    const locks = yield* MemoryFileLock.make({
      ownPid: UPDATER_PID,
      livePids: (pid) => pid === AGENT_PID || pid === UPDATER_PID,
      commandOf: (pid) => (pid === AGENT_PID ? ["/usr/sbin/driveclient"] : ["node", "/usr/bin/cloudbackup-updater"])
    })

    const record = (what: string) =>
      Effect.gen(function*() {
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        yield* Ref.update(events, (list) => [...list, { at, what }])
        yield* Effect.logInfo(`host: ${what}`)
      })
    const violate = (what: string) => Effect.zipRight(record(`VIOLATION: ${what}`), Ref.update(violations, (v) => [...v, what]))
    const kind = options.kind ?? "apt"

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
      agentExits: Effect.zipRight(Ref.update(state, (s) => ({ ...s, agentRunning: false })), record("agent exited")),
      publish: (packageVersion) =>
        Effect.zipRight(
          Ref.update(state, (s) => ({ ...s, offered: [...s.offered, packageVersion] })),
          record(`the repository now offers ${packageVersion}`)
        )
    }

    const repositoryState = (_base: string) =>
      Effect.map(Ref.get(state), (s): RepositoryState =>
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
        yield* Effect.sleep(options.transactionTime ?? Duration.seconds(1))
        yield* Ref.update(state, (current) => ({ ...current, installed: version }))
        yield* record(`driveclient ${version} installed`)
      })

    const packages = PackageManager.of({
      kind,
      repositoryState,
      configureRepository: (base, source) =>
        Effect.zipRight(
          Ref.update(state, (s) => ({ ...s, repositoryConfigured: true })),
          record(`repository ${base} configured (${source._tag})`)
        ),
      installedVersion: Effect.map(Ref.get(state), (s) => Option.fromNullable(s.installed)),
      refresh: (_base) => Effect.zipRight(Ref.update(state, (s) => ({ ...s, refreshed: true })), record("package metadata refreshed")),
      // Like `apt-cache policy`: no candidate before the repository's metadata has been fetched.
      candidateVersion: Effect.map(Ref.get(state), (s) =>
        s.repositoryConfigured && s.refreshed ? Option.fromNullable(newest(s.offered)) : Option.none()),
      download: Effect.gen(function*() {
        const s = yield* requireRefreshed("download")
        yield* Effect.sleep(options.downloadTime ?? Duration.seconds(2))
        yield* Ref.update(state, (current) => ({ ...current, downloaded: newest(s.offered) }))
        yield* record(`downloaded driveclient ${newest(s.offered)}`)
      }),
      install: Effect.gen(function*() {
        const s = yield* requireRefreshed("install")
        const target = newest(s.offered)!
        yield* record(`transaction: install driveclient ${target}${s.downloaded === target ? " (from cache)" : ""}`)
        if (s.downloaded !== target) yield* Effect.sleep(options.downloadTime ?? Duration.seconds(2))
        yield* Effect.sleep(options.transactionTime ?? Duration.seconds(1))
        if (s.failingInstall !== undefined) {
          yield* Ref.update(state, (current) => ({ ...current, failingInstall: undefined }))
          yield* record(`transaction failed: ${s.failingInstall}`)
          return yield* Effect.fail(new PackageManagerError({ operation: "install", detail: s.failingInstall }))
        }
        // A first install starts the agent, as the agent package's own scripts do.
        const firstInstall = s.installed === undefined
        yield* Ref.update(state, (current) => ({
          ...current,
          installed: target,
          agentRunning: firstInstall ? true : current.agentRunning
        }))
        yield* record(`driveclient ${target} installed${firstInstall ? "; its package starts the agent" : ""}`)
      }),
      installVersion: (version) => installExactly("install a version", version),
      isHeld: Effect.succeed(options.held ?? false),
      repair: Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (!s.interruptedTransaction) return Option.none()
        if (options.failingRepair !== undefined) {
          yield* record(`repair failed: ${options.failingRepair}`)
          return yield* Effect.fail(new PackageManagerError({ operation: "repair", detail: options.failingRepair }))
        }
        yield* Ref.update(state, (current) => ({ ...current, interruptedTransaction: false }))
        yield* record("interrupted transaction repaired")
        return Option.some("dpkg --configure -a")
      })
    })

    const agent = AgentService.of({
      kind: "systemd",
      isRunning: Effect.map(Ref.get(state), (s) => s.agentRunning),
      isEnabled: Effect.succeed(options.serviceEnabled ?? true),
      stop: Effect.gen(function*() {
        const held = yield* locks.held
        const holder = held.get(options.agentLock)
        if (holder !== undefined && holder !== UPDATER_PID) {
          yield* violate(`agent stopped while pid ${holder} holds ${options.agentLock}`)
        }
        yield* Ref.update(state, (s) => ({ ...s, agentRunning: false }))
        yield* record("agent stopped")
      }),
      start: Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (s.installed === undefined) {
          return yield* Effect.fail(new AgentServiceError({ operation: "start", detail: "driveclient is not installed" }))
        }
        yield* Ref.update(state, (current) => ({ ...current, agentRunning: true }))
        yield* record(`agent ${s.installed} started`)
        if ((options.crashingVersions ?? []).includes(s.installed)) {
          yield* Effect.sleep(Duration.seconds(2)).pipe(
            Effect.zipRight(Ref.update(state, (current) => ({ ...current, agentRunning: false }))),
            Effect.zipRight(record(`agent ${s.installed} exited`)),
            Effect.forkDaemon
          )
        }
      })
    })

    return { host, packages, agent }
  })

export class SimulatedHostTag extends Context.Tag("cloudbackup-updater/SimulatedHost")<SimulatedHostTag, SimulatedHost>() {}

/** The simulated host's services, plus the host itself for inspection. */
export const layer = (
  options: SimulatedHostOptions
): Layer.Layer<PackageManager | AgentService | FileLock | SimulatedHostTag> =>
  Layer.effectContext(
    Effect.map(make(options), ({ agent, host, packages }) =>
      Context.make(PackageManager, packages).pipe(
        Context.add(AgentService, agent),
        Context.add(FileLock, host.locks),
        Context.add(SimulatedHostTag, host)
      ))
  )
