/**
 * A Shell for tests that runs nothing: it answers from the simulated host's
 * model (src/layers/simulated/HostModel) the way dpkg-query, dpkg, apt-get,
 * apt-cache, apt-mark, rpm, dnf, yum, package-cleanup, yum-complete-transaction,
 * zypper, systemctl, service and the init script would — exit statuses and output
 * formats — and records every call. It knows exactly the command lines in
 * ExpectedCommands (the tables in fakeHost/, one per tool family); any other
 * gets the tool's complaint, and an unknown program exits 127, so a test cannot
 * pass by accident.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as HostModel from "../../src/layers/simulated/HostModel.js"
import type { DpkgState, HostFailures, HostState } from "../../src/layers/simulated/HostState.js"
import { type CommandResult, type RunOptions, Shell, ShellError, type ShellShape } from "../../src/services/Shell.js"
import type { Argv } from "./ExpectedCommands.js"
import { aptTable } from "./fakeHost/apt.js"
import { type Call, type CommandTable, type FakeHostContext, lookUp } from "./fakeHost/CommandTable.js"
import * as PackageFiles from "./fakeHost/PackageFiles.js"
import { rpmTable } from "./fakeHost/rpm.js"
import { servicesTable } from "./fakeHost/services.js"
import { zypperTable } from "./fakeHost/zypper.js"

export type { DpkgState } from "../../src/layers/simulated/HostState.js"
export { APT_CACHE, RPM_CACHE, ZYPPER_CACHE } from "./fakeHost/PackageFiles.js"
export { AGENT_MAIN_PID } from "./fakeHost/services.js"

/** Each failure is the last line of the failing command's error output. */
export type FakeFailures = HostFailures

/** What a test sees of the host: the model's state, and how the fake's commands behave. */
export interface FakeHostState extends HostState {
  /** What an init script's `status` exits with, whatever the agent does; by default 0 or 3. */
  readonly lsbStatus: number | undefined
  readonly downloadMillis: number
  readonly transactionMillis: number
}

export interface FakeHostInit {
  /** The installed agent's package version; none when it is not installed. */
  readonly installed?: string | undefined
  /** dpkg's state of the installed agent; `installed` by default. */
  readonly dpkgState?: DpkgState
  /** rpm: a second installed version (an interrupted upgrade). */
  readonly duplicate?: string
  /** apt-mark hold, or a zypper lock (`zypper addlock`). */
  readonly held?: boolean
  /** `enabled` by default. */
  readonly unitFileState?: string
  readonly dpkgAudit?: string
  readonly offered?: ReadonlyArray<string>
  readonly refreshed?: boolean
  readonly running?: boolean
  readonly failures?: FakeFailures
  readonly lsbStatus?: number
  readonly downloadTime?: Duration.DurationInput
  readonly transactionTime?: Duration.DurationInput
  /**
   * The host's root directory: when set, downloads leave package files in the package
   * manager's cache under it, and packages are installed from files there.
   */
  readonly root?: string
  /**
   * apt: the public key the agent repository's metadata is signed with. `apt-get update` of a
   * sources file then fails with apt's NO_PUBKEY error while the keyring the file's agent entry
   * names (under `root`) holds anything else.
   */
  readonly aptRepositoryKey?: string
  /**
   * zypper: the public key the agent repository's metadata is signed with. `zypper refresh` then
   * fails with zypper's unknown-key error while no key `rpm --import`ed holds it.
   */
  readonly rpmRepositoryKey?: string
}

export interface TranscriptEntry {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly output: "capture" | "discard"
  readonly timeoutMillis: number | undefined
  /** Clock time (TestClock in tests) when the command started. */
  readonly atMillis: number
  /** The exit status, or the ShellError reason. */
  readonly exit: number | ShellError["reason"]
}

export interface FakeHostService {
  readonly shell: ShellShape
  readonly state: Effect.Effect<FakeHostState>
  readonly update: (f: (state: FakeHostState) => FakeHostState) => Effect.Effect<void>
  readonly transcript: Effect.Effect<ReadonlyArray<TranscriptEntry>>
  /** The argv of every command run so far, in order. */
  readonly commands: Effect.Effect<ReadonlyArray<ReadonlyArray<string>>>
  /**
   * Returns once a command with exactly this argv has started: lets a test move
   * the TestClock only when the command is really waiting on it.
   */
  readonly whenStarted: (argv: ReadonlyArray<string>) => Effect.Effect<void>
  /** The host's model, shared with the simulated services. */
  readonly model: HostModel.HostModel
  /** The content of every key file `rpm --import`ed so far, in order. */
  readonly rpmImportedKeys: Effect.Effect<ReadonlyArray<string>>
}

export class FakeHost extends Context.Tag("test/FakeHost")<FakeHost, FakeHostService>() {}

const TABLES: ReadonlyArray<CommandTable> = [aptTable, rpmTable, zypperTable, servicesTable]

interface Behaviour {
  readonly lsbStatus: number | undefined
  readonly downloadMillis: number
  readonly transactionMillis: number
}

const initialState = (init: FakeHostInit): Partial<HostState> => ({
  installed: init.installed === undefined ? undefined : { version: init.installed, dpkgState: init.dpkgState ?? "installed" },
  duplicate: init.duplicate,
  held: init.held ?? false,
  unitFileState: init.unitFileState ?? "enabled",
  dpkgAudit: init.dpkgAudit ?? "",
  offered: init.offered ?? [],
  refreshed: init.refreshed ?? false,
  running: init.running ?? false,
  failures: init.failures ?? {}
})

/** Takes `millis` of Clock time, like a real command; past the Shell timeout it is killed. */
const takeTime = (argv: ReadonlyArray<string>, millis: number, options: RunOptions) =>
  Effect.gen(function*() {
    if (millis === 0) return
    const timeout = options.timeout === undefined ? undefined : Duration.toMillis(options.timeout)
    if (timeout !== undefined && millis > timeout) {
      yield* Effect.sleep(timeout)
      return yield* new ShellError({ argv, reason: "TimedOut", detail: `still running after ${timeout} ms` })
    }
    yield* Effect.sleep(millis)
  })

/** Tells a test when a command line has started. */
const startSignals = Effect.gen(function*() {
  const started = yield* Ref.make<ReadonlyArray<string>>([])
  const waiters = yield* Ref.make<ReadonlyArray<readonly [string, Deferred.Deferred<void>]>>([])
  const keyOf = (argv: ReadonlyArray<string>) => JSON.stringify(argv)

  const markStarted = (argv: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const key = keyOf(argv)
      yield* Ref.update(started, (keys) => [...keys, key])
      const due = yield* Ref.modify(waiters, (all) => [all.filter(([waited]) => waited === key), all.filter(([waited]) => waited !== key)])
      yield* Effect.forEach(due, ([, deferred]) => Deferred.succeed(deferred, undefined), { discard: true })
    })

  const whenStarted = (argv: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const key = keyOf(argv)
      if ((yield* Ref.get(started)).includes(key)) return
      const deferred = yield* Deferred.make<void>()
      yield* Ref.update(waiters, (all) => [...all, [key, deferred] as const])
      // It may have started between the check and the registration.
      if ((yield* Ref.get(started)).includes(key)) return
      yield* Deferred.await(deferred)
    })

  return { markStarted, whenStarted }
})

export const make = (init: FakeHostInit = {}): Effect.Effect<FakeHostService> =>
  Effect.gen(function*() {
    const model = yield* HostModel.make({ initial: initialState(init) })
    const behaviour = yield* Ref.make<Behaviour>({
      lsbStatus: init.lsbStatus,
      downloadMillis: Duration.toMillis(init.downloadTime ?? 0),
      transactionMillis: Duration.toMillis(init.transactionTime ?? 0)
    })
    const transcript = yield* Ref.make<ReadonlyArray<TranscriptEntry>>([])
    const signals = yield* startSignals
    const rpmImportedKeys = yield* Ref.make<ReadonlyArray<string>>([])

    const context: FakeHostContext = {
      model,
      files: PackageFiles.make(init.root),
      aptRepositoryKey: init.aptRepositoryKey,
      rpmRepositoryKey: init.rpmRepositoryKey,
      rpmImportedKeys,
      lsbStatus: Effect.map(Ref.get(behaviour), (b) => b.lsbStatus),
      downloadTime: Effect.map(Ref.get(behaviour), (b) => b.downloadMillis),
      transactionTime: Effect.map(Ref.get(behaviour), (b) => b.transactionMillis)
    }

    const answer = (argv: Argv, options: RunOptions): Effect.Effect<CommandResult, ShellError> => {
      const found = lookUp(TABLES, argv)
      if ("exitCode" in found) return Effect.succeed(found)
      const call: Call = {
        argv,
        options,
        holes: found.holes,
        host: context,
        takes: (time) => Effect.flatMap(time, (duration) => takeTime(argv, Duration.toMillis(duration), options))
      }
      return found.entry.run(call)
    }

    const shell: ShellShape = {
      run: (argv, options = {}) =>
        Effect.gen(function*() {
          const atMillis = yield* Clock.currentTimeMillis
          yield* signals.markStarted(argv)
          const exit = yield* Effect.exit(answer(argv, options))
          yield* Ref.update(transcript, (entries) => [...entries, {
            argv: [...argv],
            env: { ...options.env },
            output: options.output ?? "capture",
            timeoutMillis: options.timeout === undefined ? undefined : Duration.toMillis(options.timeout),
            atMillis,
            exit: exit._tag === "Success"
              ? exit.value.exitCode
              : exit.cause._tag === "Fail"
              ? exit.cause.error.reason
              : "SpawnFailed"
          }])
          return yield* exit
        })
    }

    const state = Effect.zipWith(model.state, Ref.get(behaviour), (host, b): FakeHostState => ({ ...host, ...b }))

    return {
      shell,
      state,
      update: (f) =>
        Effect.gen(function*() {
          const { downloadMillis, lsbStatus, transactionMillis, ...host } = f(yield* state)
          yield* Ref.set(behaviour, { downloadMillis, lsbStatus, transactionMillis })
          yield* model.update(() => host)
        }),
      transcript: Ref.get(transcript),
      commands: Effect.map(Ref.get(transcript), (entries) => entries.map((entry) => entry.argv)),
      whenStarted: signals.whenStarted,
      model,
      rpmImportedKeys: Ref.get(rpmImportedKeys)
    }
  })

/** Shell answered by a fake host, and the host itself for the test to inspect and change. */
export const layer = (init: FakeHostInit = {}): Layer.Layer<Shell | FakeHost> => {
  const host = Layer.effect(FakeHost, make(init))
  return Layer.provideMerge(Layer.effect(Shell, Effect.map(FakeHost, (fake) => fake.shell)), host)
}
