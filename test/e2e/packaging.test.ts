/**
 * The packages (packaging/build.sh) in the throwaway roots, under SysV init (a chroot has no
 * systemd): installing one enables and starts the daemon, which configures the repository and
 * installs the agent; an upgrade restarts it; removal stops it; purge (deb) or erase (rpm)
 * leaves nothing of it behind. The agent is never touched by any of this.
 *
 * Test scaffolding: the roots have Node.js only as a copied binary (/usr/local/bin/node), so a
 * stand-in "nodejs" package (fixtures/nodejs-shim) is installed first to meet the packages'
 * dependency on nodejs (>= 18) the normal way; nothing is installed with --force-depends.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describeResult, type ExecResult } from "./lib/exec.js"
import { upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { isAlive, type ProcessInfo, sleep } from "./lib/procfs.js"
import { type Root, ROOT_ENV } from "./lib/root.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"
import { buildNodejsShim, buildUpdaterPackages, type UpdaterPackages } from "./lib/updaterPackages.js"

const NAME = "cloudbackup-updater"
const PIDFILE = "/run/cloudbackup-updater.pid"
const LOG = "/var/log/cloudbackup-updater.log"
const STATE_DIR = "/var/lib/cloudbackup-updater"
const DEB_OPTIONS = "/etc/default/cloudbackup-updater"
const RPM_OPTIONS = "/etc/sysconfig/cloudbackup-updater"
const DEB_INIT = "/etc/init.d/cloudbackup-updater"
const RPM_INIT = "/etc/rc.d/init.d/cloudbackup-updater"
/** The contract's "within a minute". */
const AGENT_DEADLINE_MS = 60_000

const DPKG_ENV = { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" }

let work: string
let revision1: UpdaterPackages
let revision2: UpdaterPackages
const shims = new Map<string, UpdaterPackages>()

/** The stand-in nodejs package for the node binary copied into `root` (built once per version). */
const nodejsShim = async (root: Root): Promise<UpdaterPackages> => {
  const version = (await root.execOk([IN_ROOT.node, "-p", "process.versions.node"])).stdout.trim()
  const known = shims.get(version) ?? await buildNodejsShim(work, version)
  shims.set(version, known)
  return known
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "cloudbackup-updater-e2e-packages-"))
  revision1 = await buildUpdaterPackages(work, 1)
  revision2 = await buildUpdaterPackages(work, 2)
})

afterAll(async () => {
  if (work !== undefined) await fs.rm(work, { recursive: true, force: true })
})

/** Copies a host file into the root's /tmp; its path inside. */
const copyIn = async (root: Root, file: string): Promise<string> => {
  const inRoot = `/tmp/${path.basename(file)}`
  await fs.copyFile(file, root.path(inRoot))
  return inRoot
}

const expectOk = (result: ExecResult) => expect(result.code, describeResult(result)).toBe(0)

/** cloudbackup-updater processes in the root (node running /usr/bin/cloudbackup-updater). */
const updaters = async (root: Root): Promise<ProcessInfo[]> =>
  (await root.processes()).filter((p) => p.cmdline.some((arg) => path.basename(arg).startsWith(NAME)))

/** The one running daemon: its pidfile names it, and no other updater runs. */
const theDaemon = async (root: Root): Promise<ProcessInfo> => {
  const running = await updaters(root)
  expect(running.map((p) => p.cmdline.join(" ")), "exactly one cloudbackup-updater runs").toHaveLength(1)
  const daemon = running[0]!
  expect(Number((await root.readFile(PIDFILE)).trim()), `${PIDFILE} names the daemon`).toBe(daemon.pid)
  return daemon
}

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs: number, root: Root) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      const log = await root.readFileOr(LOG, "(no log)")
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- ${LOG}\n${log}`)
    }
    await sleep(250)
  }
}

/**
 * The daemon's first pass has installed the agent at `version` from the repository and the agent
 * runs. (Until the pass logs the install, its package transaction may still hold the package
 * manager's lock, and dpkg or rpm run next by the test would fail on that lock.)
 */
const waitForAgent = async (s: Scenario, version: string) => {
  await waitFor(
    `the daemon to install driveclient ${version} and the agent to run`,
    async () =>
      new RegExp(`installed the agent ${version.replace(/\./g, "\\.")}\\b`).test(await s.root.readFileOr(LOG, "")) &&
      upstream(await s.installedVersion()) === version &&
      (await s.agentPid()) !== undefined,
    AGENT_DEADLINE_MS,
    s.root
  )
}

/** Every path in the root whose name mentions cloudbackup-updater, but the suite's own copy of the bundle. */
const leftovers = async (root: Root): Promise<string[]> => {
  const result = await root.execOk(["find", "/", "-xdev", "-name", `*${NAME}*`])
  const suiteCopy = path.posix.dirname(IN_ROOT.bundle)
  return result.stdout
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("/tmp/"))
    .filter((line) => line !== suiteCopy && !line.startsWith(`${suiteCopy}/`))
    .sort()
}

/** The options an administrator (or configuration management) puts in place before installing. */
const options = (s: Scenario, extra = "") =>
  [
    "# e2e: the agent repository served on 127.0.0.1 for this test",
    `CLOUDBACKUP_UPDATER_OPTS="-v -r ${s.server.url}${extra}"`,
    ""
  ].join("\n")

describe("the .deb under SysV init", () => {
  const scenarios = useScenarios()

  const setUp = async (policy: "allow" | "deny") => {
    const s = await scenarios.create("apt")
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    // A chroot has no init system: invoke-rc.d runs init scripts only when policy-rc.d allows.
    await s.root.writeFile("/usr/sbin/policy-rc.d", `#!/bin/sh\nexit ${policy === "allow" ? 0 : 101}\n`, 0o755)
    expect(await leftovers(s.root), "a fresh root").toEqual([])
    await s.root.writeFile(DEB_OPTIONS, options(s))
    expectOk(await s.root.exec(["dpkg", "-i", await copyIn(s.root, (await nodejsShim(s.root)).deb)], { env: DPKG_ENV }))
    return s
  }

  /** dpkg -i of a build, keeping the preseeded options (--force-confold: no conffile prompt). */
  const dpkgInstall = async (s: Scenario, deb: string) =>
    s.root.exec(["dpkg", "-i", "--force-confold", await copyIn(s.root, deb)], { env: DPKG_ENV, timeoutMs: 120_000 })

  it("install starts the daemon, which installs the agent; upgrade restarts it; remove stops it; purge leaves nothing", async () => {
    const s = await setUp("allow")

    // Install: the postinst registers the init script and starts the daemon through invoke-rc.d.
    expectOk(await dpkgInstall(s, revision1.deb))
    const daemon = await theDaemon(s.root)
    expect(daemon.cmdline).toEqual([
      "/usr/bin/node", // the launcher's "#!/usr/bin/node"
      "/usr/bin/cloudbackup-updater",
      "-d",
      "-v",
      "-r",
      s.server.url
    ])
    const rc2 = await fs.readdir(s.root.path("/etc/rc2.d"))
    expect(rc2.filter((link) => /^S\d\dcloudbackup-updater$/.test(link)), "started in runlevel 2").toHaveLength(1)
    expectOk(await s.root.exec(["service", NAME, "status"]))

    // The daemon configures the repository and installs the agent from it, at once.
    await waitForAgent(s, "1.2.0")
    expect(await s.root.readFile(IN_ROOT.aptList)).toContain(`${s.server.url}/debian/ serveragent main`)
    expect(await s.root.readFile(LOG)).not.toBe("")
    const agent = await s.agentPid()

    // Upgrade: the new postinst restarts the daemon, which keeps the administrator's options
    // (without --force-confold: the packaged file is unchanged, so dpkg does not ask).
    expectOk(await s.root.exec(["dpkg", "-i", await copyIn(s.root, revision2.deb)], { env: DPKG_ENV, timeoutMs: 120_000 }))
    const restarted = await theDaemon(s.root)
    expect(restarted.pid).not.toBe(daemon.pid)
    expect(await isAlive(daemon.pid)).toBe(false)
    expect(restarted.cmdline).toContain(s.server.url)
    expect(await s.root.readFile(DEB_OPTIONS)).toBe(options(s))

    // Remove: the prerm stops the daemon; the agent is not touched; conffiles and state stay.
    expectOk(await s.root.exec(["dpkg", "-r", NAME], { env: DPKG_ENV }))
    expect((await updaters(s.root)).map((p) => p.cmdline.join(" ")), "no updater left").toEqual([])
    expect(await s.root.exists(PIDFILE)).toBe(false)
    expect(await s.root.exists("/usr/bin/cloudbackup-updater")).toBe(false)
    expect(await s.root.exists(DEB_INIT), "the init script is a conffile: it stays until purge").toBe(true)
    expect((await s.root.exec([DEB_INIT, "status"])).code, "status of a removed package: not running").toBe(3)
    expect(await s.agentPid()).toBe(agent)

    // Purge: no options, init script, links, state or log are left.
    expectOk(await s.root.exec(["dpkg", "-P", NAME], { env: DPKG_ENV }))
    for (const file of [DEB_OPTIONS, DEB_INIT, STATE_DIR, LOG, PIDFILE]) {
      expect(await s.root.exists(file), `${file} after purge`).toBe(false)
    }
    expect(await leftovers(s.root)).toEqual([])
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.agentPid()).toBe(agent)
  })

  it("respects policy-rc.d; the init script starts, reports and stops the daemon", async () => {
    const s = await setUp("deny")

    const install = await dpkgInstall(s, revision1.deb)
    expectOk(install)
    expect(await updaters(s.root), "policy-rc.d denied the start").toEqual([])
    expect((await s.root.exec(["service", NAME, "status"])).code).toBe(3)

    // "service" runs the init script itself, whatever the policy.
    expectOk(await s.root.exec(["service", NAME, "start"]))
    const daemon = await theDaemon(s.root)
    expectOk(await s.root.exec(["service", NAME, "start"]))
    expect((await theDaemon(s.root)).pid, "a second start keeps the running daemon").toBe(daemon.pid)
    expectOk(await s.root.exec(["service", NAME, "status"]))

    // A second daemon by hand refuses to run, with exit 3.
    const second = await s.root.exec(["/usr/bin/cloudbackup-updater", "-d", "-r", s.server.url])
    expect(second.code, describeResult(second)).toBe(3)

    expectOk(await s.root.exec(["service", NAME, "restart"]))
    const restarted = await theDaemon(s.root)
    expect(restarted.pid).not.toBe(daemon.pid)

    expectOk(await s.root.exec(["service", NAME, "stop"]))
    expect(await updaters(s.root)).toEqual([])
    expect(await s.root.exists(PIDFILE)).toBe(false)
    expect((await s.root.exec(["service", NAME, "status"])).code).toBe(3)
    expectOk(await s.root.exec(["service", NAME, "stop"]))

    // A pidfile left by a killed daemon: status says so (1), start reclaims it.
    await s.root.writeFile(PIDFILE, `${restarted.pid}\n`)
    expect((await s.root.exec(["service", NAME, "status"])).code).toBe(1)
    expectOk(await s.root.exec(["service", NAME, "start"]))
    await theDaemon(s.root)

    // policy-rc.d governs stopping too: the prerm could not stop the daemon under "deny".
    await s.root.writeFile("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 0\n", 0o755)
    expectOk(await s.root.exec(["dpkg", "-P", NAME], { env: DPKG_ENV }))
    expect(await updaters(s.root)).toEqual([])
    expect(await leftovers(s.root)).toEqual([])
  })
})

/**
 * Dresses the root as a host whose SysV init runs, in runlevel 3: the scriptlets start the daemon
 * only where `runlevel` names one (a chroot's, a container's or an image build's says "unknown").
 */
const runningSysvInit = (root: Root) => root.writeFile("/usr/sbin/runlevel", "#!/bin/sh\necho N 3\n", 0o755)

describe("the .rpm under SysV init", () => {
  const scenarios = useScenarios()

  it("in a container (no init system runs) dnf install enables the service but starts nothing", async () => {
    const s = await scenarios.create("dnf")
    await s.publish(["1.2.0"], "1.2.0")
    await s.root.writeFile(RPM_OPTIONS, options(s, " --package-manager dnf"))
    expectOk(await s.root.exec(["rpm", "-i", await copyIn(s.root, (await nodejsShim(s.root)).rpm)]))
    expect(await s.root.exists("/usr/sbin/runlevel")).toBe(false)
    expectOk(await s.root.exec(["dnf", "-y", "-q", "install", await copyIn(s.root, revision1.rpm)], { timeoutMs: 120_000 }))
    expect((await updaters(s.root)).map((p) => p.cmdline.join(" ")), "no updater started").toEqual([])
    expect(await s.installedVersion()).toBeUndefined()
    expect(await s.root.exists("/var/lib/rpm-state/cloudbackup-updater"), "no word left for a later transaction").toBe(false)
  })

  it("dnf install starts the daemon, which installs the agent; rpm -U restarts it; dnf remove stops it and leaves only the saved options", async () => {
    const s = await scenarios.create("dnf")
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    // The root's os-release says Debian: tell the daemon it is a dnf host.
    expect(await leftovers(s.root), "a fresh root").toEqual([])
    const preseeded = options(s, " --package-manager dnf")
    await s.root.writeFile(RPM_OPTIONS, preseeded)
    expectOk(await s.root.exec(["rpm", "-i", await copyIn(s.root, (await nodejsShim(s.root)).rpm)]))
    await runningSysvInit(s.root)

    // Install: %posttrans starts the daemon with the init script (there is no systemd, no chkconfig).
    // The preseeded options are kept; rpm puts the packaged ones beside them as .rpmnew.
    const install = await s.root.exec(["dnf", "-y", "-q", "install", await copyIn(s.root, revision1.rpm)], {
      timeoutMs: 120_000
    })
    expectOk(install)
    expect(await s.root.readFile(RPM_OPTIONS)).toBe(preseeded)
    const daemon = await theDaemon(s.root)
    expect(daemon.cmdline.slice(1)).toEqual(["/usr/bin/cloudbackup-updater", "-d", "-v", "-r", s.server.url, "--package-manager", "dnf"])
    expectOk(await s.root.exec([RPM_INIT, "status"]))

    await waitForAgent(s, "1.2.0")
    expect(await s.root.readFile(IN_ROOT.yumRepo)).toBe(await s.publisher.read("redhat/drivesrvr.repo"))
    const agent = await s.agentPid()

    // Upgrade: %posttrans restarts the running daemon.
    expectOk(await s.root.exec(["rpm", "-U", await copyIn(s.root, revision2.rpm)], { timeoutMs: 120_000 }))
    const restarted = await theDaemon(s.root)
    expect(restarted.pid).not.toBe(daemon.pid)
    expect(await isAlive(daemon.pid)).toBe(false)
    expect(await s.root.readFile(RPM_OPTIONS)).toBe(preseeded)

    // Erase: %preun stops the daemon, %postun deletes state and logs; the agent is not touched.
    expectOk(await s.root.exec(["dnf", "-y", "-q", "remove", NAME], { timeoutMs: 120_000 }))
    expect((await updaters(s.root)).map((p) => p.cmdline.join(" ")), "no updater left").toEqual([])
    for (const file of [RPM_OPTIONS, RPM_INIT, STATE_DIR, LOG, PIDFILE, "/usr/bin/cloudbackup-updater"]) {
      expect(await s.root.exists(file), `${file} after erase`).toBe(false)
    }
    // rpm's rule for a changed %config file: saved as .rpmsave on erase; the .rpmnew written at
    // install (the packaged file, set aside for the preseeded one) is never removed by rpm.
    expect(await leftovers(s.root)).toEqual([`${RPM_OPTIONS}.rpmnew`, `${RPM_OPTIONS}.rpmsave`])
    expect(await s.root.readFile(`${RPM_OPTIONS}.rpmsave`)).toBe(preseeded)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.agentPid()).toBe(agent)
  })
})
