/**
 * One test's world: a fresh root of the package manager's kind, a repository server, and the
 * operations a scenario needs (publish, set the agent up, run the updater, observe).
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterEach, inject } from "vitest"
import "./context.js"
import type { ExecResult } from "./exec.js"
import type { Build, Fixtures } from "./fixtures.js"
import { type AgentEvent, parseEvents } from "./events.js"
import { opsFor, type PackageManagerOps, type Pm } from "./packageManagers.js"
import { BUNDLE, IN_ROOT } from "./paths.js"
import { isAlive } from "./procfs.js"
import { Publisher } from "./publish.js"
import { RepoServer } from "./repoServer.js"
import { Root, ROOT_ENV } from "./root.js"
import type { RootKind } from "./rootImage.js"

/**
 * Shortens the updater's post-upgrade health watch (default 30 s, which would make every
 * running-agent upgrade take 30 s): a fixture agent that survives 3 s is healthy enough here.
 */
const SPEED_ARGS = ["--health-grace", "3"]

export interface UpdaterOptions {
  /** Base URI passed with -r (default: this scenario's server). */
  readonly repository?: string
  /** Leaves out `--package-manager`: the updater detects it from the host. */
  readonly detectPackageManager?: boolean
  /** Extra arguments after the defaults. */
  readonly args?: ReadonlyArray<string>
  readonly timeoutMs?: number
  /** The program to run instead of the suite's copy of the bundle, e.g. an installed /usr/bin/cloudbackup-updater. */
  readonly command?: ReadonlyArray<string>
  /** Variables added to the root's environment. */
  readonly env?: Readonly<Record<string, string>>
}

/** What must stay exactly the same when the updater is expected to touch nothing. */
export interface Snapshot {
  readonly version: string | undefined
  readonly pid: number | undefined
  readonly events: number
  readonly transactions: number
  readonly repoFiles: Readonly<Record<string, string | undefined>>
}

export class Scenario {
  readonly ops: PackageManagerOps
  readonly publisher: Publisher

  private constructor(
    readonly pm: Pm,
    readonly fixtures: Fixtures,
    readonly root: Root,
    readonly server: RepoServer
  ) {
    this.ops = opsFor(pm)
    this.publisher = new Publisher(fixtures, server, path.join(root.tmp, "published"))
  }

  /** A scenario in a root of `kind`: by default the kind the package manager's scenarios use. */
  static async create(pm: Pm, kind: RootKind = opsFor(pm).rootKind): Promise<Scenario> {
    const { fixtures, images, runId } = inject("e2e")
    const image = images[kind]
    if (image === undefined) throw new Error(`this run built no ${kind} root (see global-setup.ts for when it builds one)`)
    const root = await Root.mount(image, runId)
    try {
      return new Scenario(pm, fixtures, root, await RepoServer.start())
    } catch (error) {
      await root.dispose()
      throw error
    }
  }

  async dispose(): Promise<void> {
    try {
      await this.server.close()
    } finally {
      await this.root.dispose()
    }
  }

  publish(builds: ReadonlyArray<Build>, versionTxt: string): Promise<string> {
    return this.publisher.publish(builds, versionTxt)
  }

  /** Configures the repository as the contract says the updater does (needs a publication). */
  configureRepo(): Promise<void> {
    return this.ops.configureRepo(this.root, this.publisher, this.server.url)
  }

  /** Installs `build` from its file and leaves the agent running or stopped. */
  async installAgent(build: Build, state: { readonly running: boolean }): Promise<void> {
    await this.ops.installFile(this.root, this.fixtures, build)
    const pid = await this.agentPid()
    if (pid === undefined) throw new Error(`the ${build} package did not start the agent`)
    if (!state.running) {
      await this.root.execOk(["/etc/init.d/driveclient", "stop"])
      if ((await this.agentPid()) !== undefined) throw new Error("the agent did not stop")
    }
  }

  installedVersion(): Promise<string | undefined> {
    return this.ops.installedVersion(this.root)
  }

  /** The pid in the agent's pidfile when that process is alive (zombies count as dead). */
  async agentPid(): Promise<number | undefined> {
    const text = await this.root.readFileOr(IN_ROOT.agentPidfile, "")
    const pid = Number.parseInt(text.trim(), 10)
    return Number.isInteger(pid) && pid > 0 && (await isAlive(pid)) ? pid : undefined
  }

  async events(): Promise<AgentEvent[]> {
    return parseEvents(await this.root.readFileOr(IN_ROOT.events, ""))
  }

  /** Makes the agent busy: it holds the backup lock for `seconds`. */
  async makeBusy(seconds: number): Promise<void> {
    await this.root.execOk(["/usr/sbin/driveclient-busy", String(seconds)])
  }

  updaterArgv(options: UpdaterOptions = {}): string[] {
    return [
      ...(options.command ?? [IN_ROOT.node, IN_ROOT.bundle]),
      "-r",
      options.repository ?? this.server.url,
      ...(options.detectPackageManager === true ? [] : ["--package-manager", this.pm]),
      "--service-manager",
      "sysv",
      ...SPEED_ARGS,
      ...(options.args ?? [])
    ]
  }

  /** Starts the updater inside the root; `pid` is the updater's own pid. */
  async startUpdater(options: UpdaterOptions = {}): Promise<{ readonly pid: number; readonly done: Promise<ExecResult> }> {
    await fs.access(BUNDLE).catch(() => {
      throw new Error(`${BUNDLE} does not exist: run "npm run build" first`)
    })
    return this.root.start(this.updaterArgv(options), {
      timeoutMs: options.timeoutMs ?? 180_000,
      ...(options.env === undefined ? {} : { env: { ...ROOT_ENV, ...options.env } })
    })
  }

  async runUpdater(options: UpdaterOptions = {}): Promise<ExecResult> {
    return (await this.startUpdater(options)).done
  }

  async snapshot(): Promise<Snapshot> {
    const repoFiles: Record<string, string | undefined> = {}
    for (const file of this.ops.repoFiles) repoFiles[file] = await this.root.readFile(file).catch(() => undefined)
    return {
      version: await this.installedVersion(),
      pid: await this.agentPid(),
      events: (await this.events()).length,
      transactions: await this.ops.agentTransactions(this.root),
      repoFiles
    }
  }
}


/** Registers an afterEach that disposes every scenario the current describe block created. */
export const useScenarios = () => {
  const live: Scenario[] = []
  afterEach(async () => {
    for (let s = live.pop(); s !== undefined; s = live.pop()) await s.dispose()
  })
  return {
    create: async (pm: Pm): Promise<Scenario> => {
      const s = await Scenario.create(pm)
      live.push(s)
      return s
    }
  }
}
