/**
 * A simulated host in a Ref, and what happens to it: the agent repository is
 * configured and its metadata fetched, packages are downloaded, kept and
 * installed by transactions whose maintainer scripts can fail, interrupted
 * transactions are finished, the agent is started and stopped — each recorded as
 * an event. Faults armed in a queue fire, one at a time in order, at the first
 * matching point; a `kill` there kills the updater, whose every later step then
 * dies and changes nothing until it is restarted.
 *
 * The simulated services (SimulatedHost) and the tests' fake command line
 * (FakeShell) are both adapters over this one model; it knows nothing of either's
 * errors or output, and says what happened in plain results.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import {
  agentPresent,
  compareVersions,
  type Fault,
  type FaultPoint,
  type HostState,
  initialState,
  presentVersion,
  startFailure
} from "./HostState.js"

export interface HostEvent {
  readonly at: number
  readonly what: string
}

/** The defect a killed updater's every later step dies with. */
export class UpdaterKilled extends Error {
  constructor(readonly at?: FaultPoint) {
    super(at === undefined ? "the updater was killed" : `the updater was killed at ${at}`)
  }
}

export interface HostModelOptions {
  readonly initial: Partial<HostState>
  /** How long a hung step runs before it is killed (the live layers' transaction timeout). */
  readonly hangTime?: Duration.DurationInput | undefined
  /** The agent package's own scripts start the agent when it is first installed. */
  readonly firstInstallStartsAgent?: boolean
  /** Each event is also logged (the `simulate` command shows them). */
  readonly logEvents?: boolean
}

/** How a package database records a transaction left half-way: dpkg's states, or rpm's two versions. */
export type PackageFormat = "deb" | "rpm"

export type TransactionOutcome =
  | { readonly _tag: "Installed" }
  /** `line`: the failing tool's own error, when the host was told one. */
  | { readonly _tag: "Failed"; readonly at: "install" | "preinst" | "postinst"; readonly line?: string | undefined }

export type ServiceOutcome =
  | { readonly _tag: "Done" }
  | { readonly _tag: "NotInstalled" }
  /** `line` as above; `broken`: the installed release itself does not start. */
  | { readonly _tag: "Failed"; readonly line?: string | undefined; readonly broken?: boolean }

export interface HostModel {
  readonly state: Effect.Effect<HostState>
  readonly update: (f: (state: HostState) => HostState) => Effect.Effect<void>
  readonly events: Effect.Effect<ReadonlyArray<HostEvent>>
  readonly violations: Effect.Effect<ReadonlyArray<string>>
  readonly record: (what: string) => Effect.Effect<void>
  readonly violate: (what: string) => Effect.Effect<void>

  /** Runs `effect` as the updater: once the updater is dead, it dies instead and changes nothing. */
  readonly asUpdater: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly restartUpdater: Effect.Effect<void>
  readonly arm: (faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  readonly disarm: Effect.Effect<ReadonlyArray<Fault>>
  /**
   * The armed fault at `point`, if it is next: `fail` fails the step, `hang` fails it after the
   * hang time, `kill` leaves the host as `leave` says and ends the updater.
   */
  readonly fault: (point: FaultPoint, leave?: Effect.Effect<void>) => Effect.Effect<"fail" | undefined>

  readonly configureRepository: (what: string) => Effect.Effect<void>
  readonly refresh: Effect.Effect<void>
  /** yum's `clean expire-cache`: the next `refreshIfExpired` fetches. */
  readonly expireMetadata: Effect.Effect<void>
  readonly refreshIfExpired: Effect.Effect<void>

  /** The upgrade's package is downloaded into the cache. */
  readonly downloaded: (version: string) => Effect.Effect<void>
  /** A package of `version` lands in the cache (fetched again, not for an upgrade). */
  readonly cache: (version: string) => Effect.Effect<void>
  /** A package of `version` is among the updater's kept ones, secured from `source`. */
  readonly secured: (version: string, source: string) => Effect.Effect<void>
  /** The kept packages become those of `versions` that can be had (kept already, or cached). */
  readonly keepOnly: (versions: ReadonlyArray<string>) => Effect.Effect<void>

  /** The upgrade (or first install) transaction to `target`: preinst, unpack, postinst. */
  readonly transaction: (target: string, format: PackageFormat) => Effect.Effect<TransactionOutcome>
  /** A transaction killed half-way: the agent's package is left half-installed (at `target` when it had none). */
  readonly interrupt: (target: string) => Effect.Effect<void>
  /** Exactly `version`, finished (a downgrade, a rollback, a package file); `done` names it in the event. */
  readonly installExactly: (version: string, done?: "installed" | "restored") => Effect.Effect<void>
  /** Everything an interrupted transaction left is finished, the agent kept at its version. */
  readonly finish: Effect.Effect<void>
  /** `dpkg --configure -a`: what was unpacked is configured; a half-installed agent is not ready for it. */
  readonly configurePending: Effect.Effect<"configured" | "nothing" | "not-ready">
  /** rpm: the older of two installed versions is removed; returns it. */
  readonly removeOlderDuplicate: Effect.Effect<string | undefined>

  readonly stopAgent: Effect.Effect<ServiceOutcome>
  readonly startAgent: Effect.Effect<ServiceOutcome>
}

export const make = (options: HostModelOptions): Effect.Effect<HostModel> =>
  Effect.gen(function*() {
    const state = yield* Ref.make(initialState(options.initial))
    const events = yield* Ref.make<ReadonlyArray<HostEvent>>([])
    const violations = yield* Ref.make<ReadonlyArray<string>>([])
    const hangTime = options.hangTime ?? Duration.minutes(30)
    const set = (f: (s: HostState) => HostState) => Ref.update(state, f)

    const record = (what: string) =>
      Effect.gen(function*() {
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        yield* Ref.update(events, (list) => [...list, { at, what }])
        if (options.logEvents === true) yield* Effect.logInfo(`host: ${what}`)
      })

    const killUpdater = (at: FaultPoint) =>
      Effect.zipRight(set((s) => ({ ...s, updaterDead: true })), Effect.die(new UpdaterKilled(at)))

    /** The armed fault at `point`, consumed, if it is the next one. */
    const nextFault = (point: FaultPoint) =>
      Effect.gen(function*() {
        const armed = yield* Ref.modify(state, (s): readonly [Fault | undefined, HostState] => {
          const head = s.faults[0]
          return head?.at === point ? [head, { ...s, faults: s.faults.slice(1) }] : [undefined, s]
        })
        if (armed !== undefined) yield* record(`fault: ${armed.kind} at ${point}`)
        return armed
      })

    const fault = (point: FaultPoint, leave: Effect.Effect<void> = Effect.void) =>
      Effect.gen(function*() {
        const armed = yield* nextFault(point)
        if (armed === undefined) return undefined
        if (armed.kind === "hang") yield* Effect.sleep(hangTime)
        if (armed.kind === "kill") {
          yield* leave
          return yield* killUpdater(point)
        }
        return "fail" as const
      })

    const addTo = (list: ReadonlyArray<string>, version: string) => (list.includes(version) ? list : [...list, version])

    /** A transaction killed half-way leaves the agent's package half-installed (a first install's, at `target`). */
    const interrupt = (target: string) =>
      set((s) => ({ ...s, installed: { version: s.installed?.version ?? target, dpkgState: "half-installed" } }))

    /** What a failed postinst leaves: dpkg's half-configured package, or rpm's new and old versions side by side. */
    const leaveUnfinished = (target: string, previous: string | undefined, format: PackageFormat) =>
      set((s) =>
        format === "rpm" && previous !== undefined && previous !== target
          ? { ...s, installed: { version: target, dpkgState: "installed" }, duplicate: previous }
          : { ...s, installed: { version: target, dpkgState: "half-configured" } }
      )

    const transaction = (target: string, format: PackageFormat) =>
      Effect.gen(function*() {
        const before = yield* Ref.get(state)
        if (before.failures.install !== undefined) {
          yield* record(`transaction failed: ${before.failures.install}`)
          return { _tag: "Failed", at: "install", line: before.failures.install } as const
        }
        yield* set((s) => ({ ...s, cached: addTo(s.cached, target) }))
        const previous = presentVersion(before)
        const broken = before.brokenReleases[target]
        if ((yield* fault("preinst", interrupt(target))) !== undefined) return { _tag: "Failed", at: "preinst" } as const
        if (broken === "preinst") {
          yield* record(`the preinst of ${target} failed`)
          return { _tag: "Failed", at: "preinst" } as const
        }
        yield* leaveUnfinished(target, previous, format)
        if ((yield* fault("postinst")) !== undefined) return { _tag: "Failed", at: "postinst" } as const
        if (broken === "postinst") {
          yield* record(`the postinst of ${target} failed`)
          return { _tag: "Failed", at: "postinst" } as const
        }
        if (before.failures.postinst !== undefined && previous !== undefined) {
          yield* record(`the postinst of ${target} failed`)
          return { _tag: "Failed", at: "postinst", line: before.failures.postinst } as const
        }
        const firstInstall = before.installed === undefined
        const startsAgent = firstInstall && options.firstInstallStartsAgent === true
        yield* set((s) => ({ ...s, installed: { version: target, dpkgState: "installed" }, duplicate: undefined, downloaded: undefined }))
        yield* record(`driveclient ${target} installed${startsAgent ? "; its package starts the agent" : ""}`)
        if (startsAgent) {
          const started = yield* startAgent
          if (started._tag === "Failed") {
            yield* record(`cannot start the agent: ${started.line ?? "Job for driveclient.service failed"}`)
          }
        }
        return { _tag: "Installed" } as const
      })

    const stopAgent = Effect.gen(function*() {
      if ((yield* fault("stop", set((s) => ({ ...s, running: false })))) !== undefined) return { _tag: "Failed" } as const
      const line = (yield* Ref.get(state)).failures.stop
      if (line !== undefined) return { _tag: "Failed", line } as const
      yield* set((s) => ({ ...s, running: false }))
      yield* record("agent stopped")
      return { _tag: "Done" } as const
    })

    const startAgent: Effect.Effect<ServiceOutcome> = Effect.gen(function*() {
      const version = (yield* Ref.get(state)).installed?.version
      if (version === undefined) return { _tag: "NotInstalled" } as const
      if ((yield* fault("start")) !== undefined) return { _tag: "Failed" } as const
      const s = yield* Ref.get(state)
      const failure = startFailure(s, version)
      if (failure === "failure") return { _tag: "Failed", line: s.failures.start } as const
      if (failure === "broken") {
        yield* record(`agent ${version} failed to start`)
        return { _tag: "Failed", broken: true } as const
      }
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* set((current) => ({ ...current, running: true, agentStartedAt: now }))
      yield* record(`agent ${version} started`)
      // No step of its own to hang: a hang here is the started agent dying, as a failure is.
      const health = yield* nextFault("health")
      if ((health !== undefined && health.kind !== "kill") || s.brokenReleases[version] === "crash") {
        yield* Effect.sleep(Duration.seconds(2)).pipe(
          Effect.zipRight(set((current) => ({ ...current, running: false }))),
          Effect.zipRight(record(`agent ${version} exited`)),
          Effect.forkDaemon
        )
      }
      // Killed while it watches the agent it started, which runs on.
      if (health?.kind === "kill") return yield* killUpdater("health")
      return { _tag: "Done" } as const
    })

    return {
      state: Ref.get(state),
      update: set,
      events: Ref.get(events),
      violations: Ref.get(violations),
      record,
      violate: (what) => Effect.zipRight(record(`VIOLATION: ${what}`), Ref.update(violations, (v) => [...v, what])),

      asUpdater: (effect) => Effect.flatMap(Ref.get(state), (s) => (s.updaterDead ? Effect.die(new UpdaterKilled()) : effect)),
      restartUpdater: set((s) => ({ ...s, updaterDead: false })),
      arm: (faults) => set((s) => ({ ...s, faults: [...s.faults, ...faults] })),
      disarm: Ref.modify(state, (s) => [s.faults, { ...s, faults: [] }]),
      fault,

      configureRepository: (what) =>
        Effect.zipRight(set((s) => ({ ...s, repositoryConfigured: true })), record(`repository configured (${what})`)),
      refresh: Effect.zipRight(set((s) => ({ ...s, refreshed: true })), record("package metadata refreshed")),
      expireMetadata: set((s) => ({ ...s, expired: true })),
      refreshIfExpired: Effect.flatMap(Ref.get(state), (s) =>
        s.expired
          ? Effect.zipRight(set((current) => ({ ...current, refreshed: true, expired: false })), record("package metadata refreshed"))
          : Effect.void),

      downloaded: (version) =>
        Effect.zipRight(
          set((s) => ({ ...s, downloaded: version, cached: addTo(s.cached, version) })),
          record(`downloaded driveclient ${version}`)
        ),
      cache: (version) => set((s) => ({ ...s, cached: addTo(s.cached, version) })),
      secured: (version, source) =>
        Effect.zipRight(set((s) => ({ ...s, kept: addTo(s.kept, version) })), record(`secured driveclient ${version} (${source})`)),
      keepOnly: (versions) =>
        set((s) => ({ ...s, kept: versions.filter((version) => s.kept.includes(version) || s.cached.includes(version)) })),

      transaction,
      interrupt,
      installExactly: (version, done = "installed") =>
        Effect.zipRight(
          set((s) => ({ ...s, installed: { version, dpkgState: "installed" }, duplicate: undefined })),
          record(`driveclient ${version} ${done}`)
        ),
      finish: Effect.zipRight(
        set((s) => ({
          ...s,
          dpkgAudit: "",
          duplicate: undefined,
          installed: s.installed === undefined ? undefined : { version: s.installed.version, dpkgState: "installed" }
        })),
        record("interrupted transaction repaired")
      ),
      configurePending: Ref.modify(state, (s): readonly ["configured" | "nothing" | "not-ready", HostState] => {
        const dpkgState = s.installed?.dpkgState
        if (dpkgState === "half-installed") return ["not-ready", { ...s, dpkgAudit: "" }] as const
        const configures = agentPresent(s) && dpkgState !== "installed"
        return [
          configures ? "configured" : "nothing",
          { ...s, dpkgAudit: "", installed: configures ? { version: s.installed!.version, dpkgState: "installed" } : s.installed }
        ] as const
      }),
      removeOlderDuplicate: Ref.modify(state, (s) => {
        if (s.duplicate === undefined || s.installed === undefined) return [undefined, s] as const
        const [older, newer] = [s.installed.version, s.duplicate].sort(compareVersions)
        return [older, { ...s, installed: { version: newer!, dpkgState: "installed" }, duplicate: undefined }] as const
      }),

      stopAgent,
      startAgent
    }
  })
