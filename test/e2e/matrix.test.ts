/**
 * The platform matrix: every root the packages are made for, each with the flavour it needs,
 * runs the core update scenarios with the updater as its package installs it —
 * /usr/bin/cloudbackup-updater on the runtime its launcher names, nothing of the suite's own:
 * a missing agent is installed, a current one left alone, an idle one upgraded, a busy one
 * upgraded only after its backup.
 *
 * | root            | release                          | package manager | flavour, runtime                  |
 * | --------------- | -------------------------------- | --------------- | --------------------------------- |
 * | debian11        | Debian 11 (apt 2.2, Node.js 12)  | apt             | bundled, Node.js 24               |
 * | apt             | Debian 12                        | apt             | bundled, Node.js 24               |
 * | debian12-nodejs | Debian 12                        | apt             | noarch, Debian's nodejs 18        |
 * | debian13-nodejs | Debian 13 (apt 3, sqv, no apt-key) | apt           | noarch, Debian's nodejs 20        |
 * | rpm-nodejs      | RHEL-like (dnf)                  | dnf             | noarch, nodejs 18 (nodejs(engine))|
 * | rpm + RHEL's nodejs 1:16 | RHEL 8/9's default stream | dnf             | bundled, Node.js 24; noarch refused |
 *
 * The suite's copy of the host's node (/usr/local/bin/node) is removed from each root first, so
 * only the runtime the package names can run it. Under SysV init in a chroot: policy-rc.d keeps
 * the deb's postinst from starting the daemon, and the rpm starts nothing where no runlevel
 * answers; each pass is run by hand, as cron or an administrator would.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { type AgentEvent, stopsWhileAgentLocked } from "./lib/events.js"
import { describeResult, type ExecResult } from "./lib/exec.js"
import { type Pm, upstream } from "./lib/packageManagers.js"
import { IN_ROOT, REPO_ROOT } from "./lib/paths.js"
import { isAlive, sleep } from "./lib/procfs.js"
import { ROOT_ENV } from "./lib/root.js"
import type { RootKind } from "./lib/rootImage.js"
import { Scenario } from "./lib/scenario.js"
import {
  buildRhelNodejs,
  buildUpdaterPackages,
  type Flavour,
  UPDATER,
  type UpdaterPackages
} from "./lib/updaterPackages.js"

interface Platform {
  readonly name: string
  readonly kind: Extract<RootKind, "apt" | "rpm" | "debian11" | "debian12-nodejs" | "debian13-nodejs" | "rpm-nodejs">
  readonly pm: Extract<Pm, "apt" | "dnf">
  readonly flavour: Flavour
  /** The major version of Node.js that must run the updater there. */
  readonly nodeMajor: number
  /** RHEL 8's and 9's default nodejs (1:16.20.2) is installed first: the epoch trap. */
  readonly rhelNodejs16?: true
  /** Last, the other flavour at the same version is installed over this one, as the README says. */
  readonly switchesFlavour?: true
}

const BUNDLED_NODE = (JSON.parse(await fs.readFile(path.join(REPO_ROOT, "packaging", "runtime.json"), "utf8")) as {
  version: string
}).version
const BUNDLED_MAJOR = Number(BUNDLED_NODE.split(".")[0])
const PACKAGE_VERSION = (JSON.parse(await fs.readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as {
  version: string
}).version

const MATRIX: ReadonlyArray<Platform> = [
  { name: "Debian 11 (bullseye)", kind: "debian11", pm: "apt", flavour: "bundled", nodeMajor: BUNDLED_MAJOR },
  { name: "Debian 12 (bookworm)", kind: "apt", pm: "apt", flavour: "bundled", nodeMajor: BUNDLED_MAJOR },
  {
    name: "Debian 12 (bookworm) with Debian's nodejs",
    kind: "debian12-nodejs",
    pm: "apt",
    flavour: "noarch",
    nodeMajor: 18,
    switchesFlavour: true
  },
  { name: "Debian 13 (trixie) with Debian's nodejs", kind: "debian13-nodejs", pm: "apt", flavour: "noarch", nodeMajor: 20 },
  { name: "an rpm host (dnf) with nodejs 18", kind: "rpm-nodejs", pm: "dnf", flavour: "noarch", nodeMajor: 18, switchesFlavour: true },
  {
    name: "an rpm host (dnf) with RHEL's default nodejs 1:16",
    kind: "rpm",
    pm: "dnf",
    flavour: "bundled",
    nodeMajor: BUNDLED_MAJOR,
    rhelNodejs16: true
  }
]

const INTERPRETER: Readonly<Record<Flavour, string>> = {
  noarch: "/usr/bin/node",
  bundled: `/usr/lib/${UPDATER}/node/bin/node`
}
const INSTALLED = [`/usr/bin/${UPDATER}`]
const DPKG_ENV = { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" }

let work: string
const packages = new Map<Flavour, UpdaterPackages>()
let rhelNodejs: string

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "cloudbackup-updater-e2e-matrix-"))
  const [noarch, bundled, rhel] = await Promise.all([
    buildUpdaterPackages(work, 1, "noarch"),
    buildUpdaterPackages(work, 1, "bundled"),
    buildRhelNodejs(work)
  ])
  packages.set("noarch", noarch).set("bundled", bundled)
  rhelNodejs = rhel
}, 600_000)

afterAll(async () => {
  if (work !== undefined) await fs.rm(work, { recursive: true, force: true })
})

const expectOk = (result: ExecResult) => expect(result.code, describeResult(result)).toBe(0)

const summary = (events: ReadonlyArray<AgentEvent>) =>
  events.map((e) => (e.kind === "up" || e.kind === "down" ? `${e.kind} ${e.version}` : e.kind))

const copyIn = async (s: Scenario, file: string): Promise<string> => {
  const inRoot = `/tmp/${path.basename(file)}`
  await fs.copyFile(file, s.root.path(inRoot))
  return inRoot
}

/** Installs a package file the way the README says: apt-get install ./file, or dnf install ./file. */
const installPackage = async (s: Scenario, file: string): Promise<ExecResult> =>
  s.pm === "apt"
    ? s.root.exec(["apt-get", "install", "-y", await copyIn(s, file)], { env: DPKG_ENV, timeoutMs: 180_000 })
    : s.root.exec(["dnf", "-y", "install", await copyIn(s, file)], { timeoutMs: 180_000 })

const packageFile = (s: Scenario, flavour: Flavour) => {
  const built = packages.get(flavour)!
  return s.pm === "apt" ? built.deb : built.rpm
}

/** The installed launcher names `flavour`'s runtime, which is Node.js `major`; it answers --version. */
const expectRunsOn = async (s: Scenario, flavour: Flavour, major: number) => {
  const launcher = await s.root.readFile(INSTALLED[0]!)
  expect(launcher.split("\n")[0]).toBe(`#!${INTERPRETER[flavour]}`)
  const node = await s.root.execOk([INTERPRETER[flavour], "-p", "process.versions.node"])
  expect(Number(node.stdout.split(".")[0]), `Node.js ${node.stdout.trim()}`).toBe(major)
  if (flavour === "bundled") expect(node.stdout.trim()).toBe(BUNDLED_NODE)
  const version = await s.root.exec([...INSTALLED, "--version"])
  expectOk(version)
  expect(version.stdout).toContain(PACKAGE_VERSION)
}

const updaterInstalled = async (s: Scenario): Promise<boolean> =>
  s.pm === "apt"
    ? (await s.root.exec(["dpkg-query", "-W", "-f=${db:Status-Status}", UPDATER])).stdout === "installed"
    : (await s.root.exec(["rpm", "-q", UPDATER])).code === 0

for (const platform of MATRIX) describe(`${platform.name}: the ${platform.flavour} package`, () => {
  let s: Scenario

  beforeAll(async () => {
    s = await Scenario.create(platform.pm, platform.kind)
    await fs.rm(s.root.path(IN_ROOT.node))
    // invoke-rc.d in the deb's postinst: no daemon (each pass below is run by hand).
    await s.root.writeFile("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    await s.publish(["1.0.0"], "1.0.0")
  }, 120_000)

  afterAll(async () => {
    await s?.dispose()
  })

  const pass = () => s.runUpdater({ command: INSTALLED })

  if (platform.rhelNodejs16 === true) {
    it("RHEL's nodejs 1:16.20.2 meets `nodejs >= 18` (its epoch), but not `nodejs(engine) >= 18`", async () => {
      expectOk(await s.root.exec(["rpm", "-i", await copyIn(s, rhelNodejs)]))
      const whatProvides = (dependency: string) =>
        s.root.execOk(["dnf", "-q", "repoquery", "--installed", "--whatprovides", dependency])
      expect((await whatProvides("nodejs >= 18")).stdout.trim()).toBe("nodejs-1:16.20.2-1.module_el8.8.0+1285+4e7c5a12.noarch")
      expect((await whatProvides("nodejs(engine) >= 18")).stdout.trim()).toBe("")
      expect((await whatProvides("nodejs(engine) >= 16")).stdout.trim(), "the query itself works").toMatch(/^nodejs-1:16\.20\.2-/)
    })

    it("the arch-independent rpm refuses to install there, naming what it needs", async () => {
      const refused = await installPackage(s, packages.get("noarch")!.rpm)
      expect(refused.code, describeResult(refused)).not.toBe(0)
      expect(`${refused.stdout}\n${refused.stderr}`).toMatch(/nodejs\(engine\) >= 18/)
      expect(await updaterInstalled(s), "nothing was installed").toBe(false)
    })
  }

  it(`installs, and runs on Node.js ${platform.nodeMajor} at ${INTERPRETER[platform.flavour]}`, async () => {
    expectOk(await installPackage(s, packageFile(s, platform.flavour)))
    expect(await updaterInstalled(s)).toBe(true)
    await expectRunsOn(s, platform.flavour, platform.nodeMajor)
    expect(await s.root.exists(IN_ROOT.node), "the suite's own node is gone").toBe(false)
  })

  it("configures the repository and installs the missing agent (the newest it offers), which runs", async () => {
    const run = await pass()
    expectOk(run)
    expect(upstream(await s.installedVersion())).toBe("1.0.0")
    expect(await s.agentPid(), "the agent runs").toBeDefined()
    for (const file of s.ops.repoFiles) expect(await s.root.exists(file), file).toBe(true)
    await expectCleanAfterPass(s)
  })

  it("leaves a current agent alone", async () => {
    const before = await s.snapshot()
    expectOk(await pass())
    expect(await s.snapshot()).toEqual(before)
    await expectCleanAfterPass(s)
  })

  it("upgrades an idle agent: stop, upgrade, start", async () => {
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    const before = await s.snapshot()
    expectOk(await pass())
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    const pid = await s.agentPid()
    expect(pid, "the agent runs again").toBeDefined()
    expect(pid).not.toBe(before.pid)
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.1.0"])
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])
    await expectCleanAfterPass(s)
  })

  it("upgrades a busy agent only after its backup, holding the backup lock while it is down", async () => {
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    const before = await s.snapshot()
    await s.makeBusy(4)
    const updater = await s.startUpdater({ command: INSTALLED })
    await sleep(1500)
    expect(await isAlive(updater.pid), "the updater waits while the agent is busy").toBe(true)
    expect(s.root.toInRoot(await fs.readlink(`/proc/${updater.pid}/exe`)), "the runtime running the updater").toBe(
      INTERPRETER[platform.flavour]
    )
    expect(await s.agentPid()).toBe(before.pid)

    const run = await updater.done
    expectOk(run)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.agentPid(), "the agent runs again").toBeDefined()
    const events = (await s.events()).slice(before.events)
    expect(summary(events)).toEqual(["lock", "unlock", "down 1.1.0", "up 1.2.0"])
    expect(events.find((e) => e.kind === "down")).toMatchObject({ lockOwner: updater.pid })
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])
    await expectCleanAfterPass(s)
  })

  if (platform.switchesFlavour === true) {
    it("moves to the bundled flavour at the same version, and back, with a plain install of the file", async () => {
      const before = await s.snapshot()
      expectOk(await installPackage(s, packageFile(s, "bundled")))
      await expectRunsOn(s, "bundled", BUNDLED_MAJOR)
      expectOk(await pass())
      expectOk(await installPackage(s, packageFile(s, platform.flavour)))
      await expectRunsOn(s, platform.flavour, platform.nodeMajor)
      expect(await s.root.exists(`/usr/lib/${UPDATER}/node`), "the bundled runtime went with its flavour").toBe(false)
      expectOk(await pass())
      expect(await s.snapshot(), "the agent was left alone").toEqual(before)
    })
  }
})
