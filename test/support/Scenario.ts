/**
 * One update pass as the program runs it, on a fake host: the live package and
 * service layers over FakeShell in a throwaway root, the remote repository
 * served from memory, and dot-locks in memory. A world records which process
 * held the agent's lock when each command ran.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { aptSourceLine } from "../../src/domain/AptSources.js"
import * as HostDetection from "../../src/main/HostDetection.js"
import * as MemoryFileLock from "../../src/layers/MemoryFileLock.js"
import * as MemoryStateStore from "../../src/layers/MemoryStateStore.js"
import { updatePass } from "../../src/programs/UpdatePass.js"
import type { ServiceManagerKind } from "../../src/services/AgentService.js"
import { FileLock, type FileLockShape } from "../../src/services/FileLock.js"
import * as Http from "../../src/services/Http.js"
import * as Repository from "../../src/services/Repository.js"
import { Shell, type ShellShape } from "../../src/services/Shell.js"
import * as ShutdownInhibitor from "../../src/services/ShutdownInhibitor.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"
import {
  type Argv,
  initScriptCommands,
  type PackageCommands,
  packageCommands,
  type PackageManagerFlavor,
  type ServiceCommands,
  serviceCommands,
  systemdCommands
} from "./ExpectedCommands.js"
import * as FakeShell from "./FakeShell.js"
import { REPOSITORY_KEY } from "./OpenPgpKeys.js"
import { tempRoot, writeHostFile, writeHostProgram } from "./TempRoot.js"

export const BASE = "https://agentrepo.example.test"
export const AGENT_LOCK = "/var/cache/driveclient/backup-running.lock"
export const PASS_LOCK = "/var/lib/cloudbackup-updater/update.lock"
export const UPDATER_PID = 5151
export const AGENT_PID = 4242
export const LOCK_POLL = Duration.seconds(30)
export const SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

/** A real public key (gpg's): the updater decodes and checks it. */
export const ARMORED_KEY = REPOSITORY_KEY

export const YUM_REPO = [
  "[drivesrvr]",
  "name=Cloud Backup agent",
  `baseurl=${BASE}/redhat/$basearch/`,
  "enabled=1",
  "gpgcheck=1",
  `gpgkey=${BASE}/redhat/RPM-GPG-KEY-drivesrvr`,
  ""
].join("\n")

export interface Flavor {
  readonly name: string
  readonly packageManager: PackageManagerFlavor
  readonly serviceManager: ServiceManagerKind
  /** sysv: whether `service` is on PATH (else the init script is run directly). */
  readonly serviceOnPath: boolean
}

export const flavors: ReadonlyArray<Flavor> = [
  { name: "apt + systemd", packageManager: "apt", serviceManager: "systemd", serviceOnPath: false },
  { name: "dnf + sysv (service)", packageManager: "dnf", serviceManager: "sysv", serviceOnPath: true },
  { name: "yum + sysv (init script)", packageManager: "yum", serviceManager: "sysv", serviceOnPath: false },
  { name: "yum + systemd", packageManager: "yum", serviceManager: "systemd", serviceOnPath: false },
  { name: "zypper + systemd", packageManager: "zypper", serviceManager: "systemd", serviceOnPath: false }
]

/** The package version a flavor's repository gives an upstream version: `1.2.0-1` or `1.2.0-1.el9`. */
export const packageVersion = (flavor: Flavor, upstream: string): string =>
  flavor.packageManager === "apt" ? `${upstream}-1` : `${upstream}-1.el9`

export const expectedPackageCommands = (flavor: Flavor): PackageCommands => packageCommands(flavor.packageManager)

export const expectedServiceCommands = (flavor: Flavor): ServiceCommands =>
  flavor.serviceManager === "systemd" ? systemdCommands : flavor.serviceOnPath ? serviceCommands : initScriptCommands

/** What an old agent is checked for before it is upgraded: a held package, a disabled service. */
export const expectedLeaveAloneChecks = (flavor: Flavor): ReadonlyArray<Argv> => [
  ...expectedPackageCommands(flavor).isHeld,
  ...expectedServiceCommands(flavor).isEnabled
]

export interface WorldOptions {
  readonly flavor: Flavor
  /** The body of version.txt. */
  readonly published: string
  readonly host: FakeShell.FakeHostInit
  readonly repositoryConfigured: boolean
  /** Whether the updater kept a package of the installed version for a rollback; true by default. */
  readonly keptInstalled?: boolean
  readonly config?: Partial<UpdaterConfig.UpdaterConfigShape>
}

export const KEPT_DIR = "/var/lib/cloudbackup-updater/packages"

/** Where a flavor's package manager keeps the agent repository's packages. */
export const packageCacheDir = (flavor: Flavor): string =>
  flavor.packageManager === "apt" ? FakeShell.APT_CACHE : flavor.packageManager === "zypper" ? FakeShell.ZYPPER_CACHE : FakeShell.RPM_CACHE

/** The agent's repo file an rpm-based flavor's package manager reads. */
export const repoFilePath = (flavor: Flavor): string =>
  flavor.packageManager === "zypper" ? "/etc/zypp/repos.d/drivesrvr.repo" : "/etc/yum.repos.d/drivesrvr.repo"

/** The name of the agent's package file of `version`, as apt's and dnf's caches name it. */
export const packageFileName = (flavor: Flavor, version: string): string =>
  flavor.packageManager === "apt" ? `driveclient_${version}_amd64.deb` : `driveclient-${version}.x86_64.rpm`

export interface CommandWithLock {
  readonly argv: ReadonlyArray<string>
  /** The pid holding the agent's lock when the command ran. */
  readonly agentLockHolder: number | undefined
}

export interface World {
  readonly root: string
  readonly host: FakeShell.FakeHostService
  readonly locks: MemoryFileLock.MemoryFileLock
  readonly commandsWithLock: Effect.Effect<ReadonlyArray<CommandWithLock>>
  /** Done the first time the updater finds the agent's lock held by someone else. */
  readonly agentLockFoundHeld: Deferred.Deferred<void>
  /** One update pass in this world. */
  readonly pass: Effect.Effect<
    Effect.Effect.Success<typeof updatePass>,
    Effect.Effect.Error<typeof updatePass>
  >
}

const serveFiles = (files: Readonly<Record<string, string>>): Http.Transport => (url) =>
  Effect.succeed(url in files ? { status: 200, body: files[url]! } : { status: 404, body: "<html>Not Found</html>" })

/** The agent's repository as the host had it configured before the pass. */
const configureRepository = (root: string, flavor: Flavor) =>
  flavor.packageManager === "apt"
    ? Effect.zipRight(
      writeHostFile(root, "/etc/apt/keyrings/driveclient.asc", ARMORED_KEY),
      writeHostFile(
        root,
        "/etc/apt/sources.list.d/driveclient.list",
        aptSourceLine(BASE, "/etc/apt/keyrings/driveclient.asc")
      )
    )
    : writeHostFile(root, repoFilePath(flavor), YUM_REPO)

export const makeWorld = (options: WorldOptions): Effect.Effect<World, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { flavor } = options
    const root = yield* tempRoot
    if (options.repositoryConfigured) yield* configureRepository(root, flavor)
    if (flavor.serviceOnPath) yield* writeHostProgram(root, "/usr/sbin/service")
    if (options.host.installed !== undefined && options.keptInstalled !== false) {
      yield* writeHostFile(root, `${KEPT_DIR}/${packageFileName(flavor, options.host.installed)}`, "kept package\n")
    }

    const host = yield* FakeShell.make({ root, ...options.host })
    const locks = yield* MemoryFileLock.make({ ownPid: UPDATER_PID, livePids: (pid) => pid === AGENT_PID })
    const agentLockFoundHeld = yield* Deferred.make<void>()
    const commandsWithLock = yield* Ref.make<ReadonlyArray<CommandWithLock>>([])

    const watchedLocks: FileLockShape = {
      ...locks,
      tryAcquire: (path) =>
        locks.tryAcquire(path).pipe(
          Effect.tapErrorTag("LockHeld", () => path === AGENT_LOCK ? Deferred.succeed(agentLockFoundHeld, undefined) : Effect.void)
        )
    }
    const watchedShell: ShellShape = {
      run: (argv, runOptions) =>
        Effect.flatMap(locks.held, (held) =>
          Ref.update(commandsWithLock, (entries) => [...entries, { argv: [...argv], agentLockHolder: held.get(AGENT_LOCK) }])).pipe(
            Effect.zipRight(host.shell.run(argv, runOptions))
          )
    }

    const config = UpdaterConfig.layer({
      repository: BASE,
      agentLock: AGENT_LOCK,
      passLock: PASS_LOCK,
      lockPoll: LOCK_POLL,
      // One look at the started agent keeps the command sequences short; HealthCheck's own tests cover the grace period.
      healthGrace: Duration.zero,
      ...options.config
    })
    const http = Layer.succeed(
      Http.Http,
      Http.make(
        serveFiles({
          [`${BASE}/version.txt`]: options.published,
          [`${BASE}/debian/agentrepo.key`]: ARMORED_KEY,
          [`${BASE}/redhat/drivesrvr.repo`]: YUM_REPO,
          [`${BASE}/redhat/RPM-GPG-KEY-drivesrvr`]: ARMORED_KEY
        }),
        Http.defaultOptions
      )
    )
    const repository = Repository.layer.pipe(Layer.provide(Layer.merge(http, config)))
    const live = HostDetection.liveLayers(
      { packageManager: flavor.packageManager, serviceManager: flavor.serviceManager },
      root,
      SEARCH_PATH
    ).pipe(Layer.provide(Layer.mergeAll(Layer.succeed(Shell, watchedShell), repository, config)))

    const everything = Layer.mergeAll(
      config,
      repository,
      Layer.succeed(FileLock, watchedLocks),
      live,
      MemoryStateStore.layer(),
      ShutdownInhibitor.none,
      Logger.minimumLogLevel(LogLevel.None)
    )

    return {
      root,
      host,
      locks,
      commandsWithLock: Ref.get(commandsWithLock),
      agentLockFoundHeld,
      pass: updatePass.pipe(Effect.provide(everything))
    }
  })
