/**
 * The real .deb under a REAL booted systemd (lib/booted.ts): systemd as PID 1 of a PID and mount
 * namespace over a throwaway overlay of the systemd root, journald, logind and D-Bus running, the
 * host's network (the repository server is on 127.0.0.1). Everything is done as an administrator
 * would, inside: dpkg, apt-get, systemctl, journalctl, systemd-inhibit.
 *
 * The package: cloudbackup-updater.timer (enabled and started by the postinst, first pass
 * OnActiveSec after it starts, then OnUnitInactiveSec=1h) runs cloudbackup-updater.service, a
 * oneshot `cloudbackup-updater --staged $CLOUDBACKUP_UPDATER_OPTS` with the options from
 * /etc/default/cloudbackup-updater. The fixture agent is a SysV init script, so under systemd it
 * is the sysv-generated driveclient.service (its postinst registers it as debhelper does, and its
 * init script goes through systemctl as every Debian one does: lib/lsb/init-functions).
 *
 * Each case boots its own root (about a second) and waits for the timer's first pass, which
 * installs the agent: that is the state every later step starts from.
 */
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { Booted } from "./lib/booted.js"
import {
  agentPid,
  events,
  expectOk,
  FIRST_PASS_MS,
  optionsFile,
  SERVICE,
  serviceState,
  STATE,
  TIMER,
  unitOf,
  updaterLines,
  updaterProcesses,
  useBootedUpdater,
  waitFor,
  waitForPass
} from "./lib/bootedUpdater.js"
import type { Build } from "./lib/fixtures.js"
import { describeResult, execOk } from "./lib/exec.js"
import { E2E_DIR } from "./lib/paths.js"
import { sleep } from "./lib/procfs.js"
import { ROOT_ENV } from "./lib/root.js"
import { UPDATER } from "./lib/updaterPackages.js"

const OPTIONS = "/etc/default/cloudbackup-updater"
const SCRIPTS_LOG = "/var/log/driveclient-scripts.log"
const DPKG_ENV = { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" }

const { built, boot } = useBootedUpdater("systemd")

/** dpkg -i of a package file, keeping the preseeded options (--force-confold: no conffile prompt). */
const dpkgInstall = async (booted: Booted, deb: string) =>
  booted.exec(["dpkg", "-i", "--force-confold", await booted.copyIn(deb)], { env: DPKG_ENV, timeoutMs: 120_000 })

const installedVersion = async (booted: Booted, name = "driveclient"): Promise<string | undefined> => {
  const result = await booted.exec(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", name])
  const [status, version] = result.stdout.trim().split(" ")
  return result.code === 0 && status === "installed" ? version : undefined
}

const planOf = async (booted: Booted): Promise<{ version: string; at: number } | undefined> =>
  (JSON.parse(await booted.readFile(STATE)) as { plannedUpgrade?: { version: string; at: number } }).plannedUpgrade

/** Moves the planned upgrade's time into the past, as if its rollout delay had passed. */
const makePlanDue = async (booted: Booted) => {
  const state = JSON.parse(await booted.readFile(STATE)) as { plannedUpgrade?: { version: string; at: number } }
  if (state.plannedUpgrade === undefined) throw new Error(`no planned upgrade in ${STATE}: ${JSON.stringify(state)}`)
  state.plannedUpgrade.at = Date.now() - 60_000
  await booted.writeFile(STATE, `${JSON.stringify(state)}\n`, 0o600)
}

/**
 * Boots a root, publishes `builds` with `version` in version.txt, preseeds the options, installs
 * the nodejs stand-in and then the updater's .deb (revision 1), and waits for the timer's first
 * pass, which installs the agent from the repository.
 */
const installed = async (builds: ReadonlyArray<Build>, version: string) => {
  const world = await boot()
  const { booted, server, publisher } = world
  await publisher.publish(builds, version)
  await booted.writeFile(OPTIONS, optionsFile(server.url))
  expectOk(await booted.exec(["dpkg", "-i", await booted.copyIn(built.shim.deb)], { env: DPKG_ENV }))
  const install = await dpkgInstall(booted, built.revision1.deb)
  expectOk(install)
  const pass = await waitForPass(booted)
  expect(pass, "the first pass succeeded").toMatchObject({ Result: "success", ExecMainStatus: "0" })
  return { ...world, install, firstPass: pass }
}

/** `systemctl start` of the service (it returns when the oneshot pass has ended). */
const startPass = (booted: Booted) => booted.exec(["systemctl", "start", SERVICE], { timeoutMs: 180_000 })

/** A port on 127.0.0.1 nothing listens on. */
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe("the .deb under a booted systemd", () => {
  it("a. install enables and starts the timer; its first pass installs the agent under systemd and nothing stays resident", async () => {
    const { booted, install } = await installed(["1.0.0", "1.1.0"], "1.1.0")
    expect(install.stderr, "dpkg's output").not.toMatch(/could not/)

    // The timer: enabled (timers.target wants it), active, its next run listed.
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim()).toBe("enabled")
    expect(await booted.exists(`/etc/systemd/system/timers.target.wants/${TIMER}`)).toBe(true)
    expect((await booted.systemctl("is-active", TIMER)).stdout.trim()).toBe("active")
    const timers = await booted.execOk(["systemctl", "list-timers", "--all", "--no-pager", TIMER])
    const line = timers.stdout.split("\n").find((l) => l.includes(TIMER))
    expect(line, timers.stdout).toBeDefined()
    expect(line, "NEXT is a time, not n/a").toMatch(/^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/)
    expect(line).toContain(SERVICE)
    const timer = await booted.show(TIMER, "NextElapseUSecMonotonic", "LastTriggerUSec", "Triggers")
    expect(timer["Triggers"]).toBe(SERVICE)
    expect(timer["LastTriggerUSec"], "the timer has run the service").not.toMatch(/^(n\/a|0)?$/)

    // The pass installed the newest agent, which runs in its own unit, not in the pass's.
    expect(await installedVersion(booted)).toBe("1.1.0-1")
    expect((await booted.systemctl("is-active", "driveclient")).stdout.trim()).toBe("active")
    const agent = await agentPid(booted)
    expect(agent, "the agent runs").toBeDefined()
    expect(await unitOf(booted, agent!), "the agent's cgroup").toBe("driveclient.service")
    expect((await updaterLines(booted)).map((e) => e.MESSAGE).join("\n")).toMatch(/installed the agent 1\.1\.0\b/)

    // Each line once: a second logger (or a second stream) would double every line in the journal.
    const byPid = new Map<string, string[]>()
    for (const entry of await updaterLines(booted)) {
      const pid = String(entry["_PID"])
      byPid.set(pid, [...(byPid.get(pid) ?? []), `<${entry.PRIORITY ?? "?"}> ${entry.MESSAGE ?? ""}`])
    }
    for (const [pid, messages] of byPid) {
      const repeated = messages.filter((message, i) => i > 0 && messages[i - 1] === message)
      expect(repeated, `lines the updater (pid ${pid}) logged twice in a row:\n${messages.join("\n")}`).toEqual([])
    }

    // A oneshot: nothing of the updater stays, and the unit is inactive (not "active (exited)").
    expect(await updaterProcesses(booted), "no cloudbackup-updater process after the pass").toEqual([])
    expect((await serviceState(booted))["ActiveState"]).toBe("inactive")
    expect(await booted.show(SERVICE, "Type")).toMatchObject({ Type: "oneshot" })
  })

  it("b. journal priorities: a failing pass logs at err and fails the unit; info lines are not errors", async () => {
    const { booted } = await installed(["1.0.0"], "1.0.0")
    // The successful first pass logged at info.
    const info = (await updaterLines(booted, ["-p", "info"])).find((e) => /installed the agent 1\.0\.0\b/.test(e.MESSAGE ?? ""))
    expect(info, "the install line, at -p info").toBeDefined()
    expect(info!.PRIORITY).toBe("6")

    const port = await closedPort()
    await booted.writeFile(OPTIONS, optionsFile(`http://127.0.0.1:${port}`))
    const failed = await startPass(booted)
    expect(failed.code, describeResult(failed)).not.toBe(0)
    expect((await serviceState(booted))).toMatchObject({ ActiveState: "failed", Result: "exit-code", ExecMainStatus: "1" })
    const listed = await booted.execOk(["systemctl", "--failed", "--no-legend", "--plain", "--no-pager"])
    expect(listed.stdout).toContain(SERVICE)

    const errors = await updaterLines(booted, ["-p", "err"])
    expect(errors.length, "error lines of the updater at -p err").toBeGreaterThan(0)
    const named = errors.find((e) => (e.MESSAGE ?? "").includes(`127.0.0.1:${port}`) || /version\.txt/.test(e.MESSAGE ?? ""))
    expect(named, `an error line naming the repository: ${JSON.stringify(errors.map((e) => e.MESSAGE))}`).toBeDefined()
    for (const entry of errors) {
      expect(Number(entry.PRIORITY), entry.MESSAGE).toBeLessThanOrEqual(3)
      expect(entry.MESSAGE, "the <N> prefix is read by journald, not shown").not.toMatch(/^<\d>/)
    }
    expect(errors.map((e) => e.MESSAGE), "the info line is not an error").not.toContain(info!.MESSAGE)
    expect((await updaterLines(booted, ["-p", "info"])).map((e) => e.MESSAGE)).toContain(info!.MESSAGE)
    // journalctl -p err as an administrator reads it.
    expect((await booted.execOk(["journalctl", "--no-pager", "-p", "err", "-u", SERVICE])).stdout).toContain(named!.MESSAGE)
  })

  it("c. staged upgrade: a newer version is planned in the state file, not installed; once due, the next pass upgrades", async () => {
    const { booted, publisher } = await installed(["1.0.0"], "1.0.0")
    const before = await agentPid(booted)
    expect(before).toBeDefined()

    await publisher.publish(["1.0.0", "1.1.0"], "1.1.0")
    const planned = await startPass(booted)
    expectOk(planned)
    expect(await serviceState(booted)).toMatchObject({ ActiveState: "inactive", Result: "success", ExecMainStatus: "0" })
    const plan = await planOf(booted)
    expect(plan, `${STATE} holds the plan`).toMatchObject({ version: "1.1.0" })
    expect(plan!.at, "planned in the future").toBeGreaterThan(Date.now())
    expect(await installedVersion(booted), "not upgraded yet").toBe("1.0.0-1")
    expect(await agentPid(booted), "the agent was not touched").toBe(before)
    expect((await events(booted)).map((e) => e.kind)).toEqual(["up"])

    await makePlanDue(booted)
    const upgrade = await startPass(booted)
    expectOk(upgrade)
    expect(await serviceState(booted)).toMatchObject({ Result: "success", ExecMainStatus: "0" })
    expect(await installedVersion(booted)).toBe("1.1.0-1")
    const after = await agentPid(booted)
    expect(after, "the agent runs again").toBeDefined()
    expect(after).not.toBe(before)
    expect(await unitOf(booted, after!)).toBe("driveclient.service")
    expect((await booted.systemctl("is-active", "driveclient")).stdout.trim()).toBe("active")
    expect((await events(booted)).map((e) => `${e.kind} ${"version" in e ? e.version : ""}`)).toEqual([
      "up 1.0.0",
      "down 1.0.0",
      "up 1.1.0"
    ])
    expect(await planOf(booted), "the plan is cleared").toBeUndefined()
    expect(await updaterProcesses(booted)).toEqual([])
  })

  it("g. upgrading the updater keeps the timer; remove stops and disables it; purge leaves nothing", async () => {
    const { booted } = await installed(["1.0.0"], "1.0.0")
    const agent = await agentPid(booted)

    expectOk(await dpkgInstall(booted, built.revision2.deb))
    expect(await installedVersion(booted, UPDATER)).toMatch(/-2$/)
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim()).toBe("enabled")
    expect((await booted.systemctl("is-active", TIMER)).stdout.trim()).toBe("active")
    expect(await booted.readFile(OPTIONS), "the administrator's options are kept").toContain("--health-grace 3")

    const remove = await booted.exec(["apt-get", "remove", "-y", UPDATER], { env: DPKG_ENV, timeoutMs: 120_000 })
    expectOk(remove)
    expect(await installedVersion(booted, UPDATER)).toBeUndefined()
    expect((await booted.systemctl("is-active", TIMER)).stdout.trim()).toBe("inactive")
    expect((await booted.systemctl("is-active", SERVICE)).stdout.trim()).toBe("inactive")
    // Debian keeps a removed package's enablement until purge (a reinstall restores it), and masks
    // the units meanwhile: the timer cannot be started, by timers.target or anyone.
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim(), "after remove").toMatch(/^(masked|disabled|not-found)$/)
    const startRemoved = await booted.systemctl("start", TIMER)
    expect(startRemoved.code, "the removed timer cannot be started").not.toBe(0)
    const timers = await booted.execOk(["systemctl", "list-timers", "--all", "--no-pager"])
    const listed = timers.stdout.split("\n").find((l) => l.includes(TIMER))
    if (listed !== undefined) expect(listed, "listed (masked) but with no next run").toMatch(/^-\s/)
    expect(await updaterProcesses(booted)).toEqual([])

    const purge = await booted.exec(["dpkg", "--purge", UPDATER], { env: DPKG_ENV, timeoutMs: 120_000 })
    expectOk(purge)
    expect(await booted.exists("/var/lib/cloudbackup-updater"), "state dir after purge").toBe(false)
    const leftovers = await booted.execOk([
      "find",
      "/etc",
      "/lib/systemd",
      "/usr/lib/systemd",
      "/var/lib/systemd",
      "/var/log",
      "-name",
      `*${UPDATER}*`
    ])
    expect(leftovers.stdout.split("\n").filter(Boolean), "unit files, links, logs after purge").toEqual([])
    expect((await booted.systemctl("list-unit-files", "--no-legend", `${UPDATER}*`)).stdout.trim()).toBe("")
    expect(await installedVersion(booted), "the agent is not touched").toBe("1.0.0-1")
    expect(await agentPid(booted)).toBe(agent)
  })

  it("d. while the agent is down for an upgrade, logind lists the updater's shutdown inhibitor", async () => {
    const { booted, publisher } = await installed(["1.0.0"], "1.0.0")
    await publisher.publish(["1.0.0", "1.1.0-slow-scripts"], "1.1.0")
    expectOk(await startPass(booted))
    await makePlanDue(booted)

    expectOk(await booted.execOk(["systemctl", "start", "--no-block", SERVICE]))
    // The slow-scripts variant's preinst and postinst sleep 3 s each: the agent is down for 6 s or more.
    await waitFor(
      "the agent to be stopped for the upgrade",
      async () => (await events(booted)).some((e) => e.kind === "down"),
      60_000,
      booted
    )
    const list = await booted.execOk(["systemd-inhibit", "--list", "--no-pager"])
    const stillDown = !(await events(booted)).some((e) => e.kind === "up" && e.version === "1.1.0")
    expect(stillDown, "the list was read while the agent was down").toBe(true)
    const lock = list.stdout.split("\n").find((l) => l.includes(UPDATER))
    expect(lock, list.stdout).toBeDefined()
    expect(lock).toMatch(/\bshutdown\b/)
    expect(lock).toMatch(/\bblock\s*$/)

    await waitForPass(booted)
    expect(await serviceState(booted)).toMatchObject({ Result: "success" })
    expect(await installedVersion(booted)).toBe("1.1.0-1")
    expect(await agentPid(booted)).toBeDefined()
    expect((await booted.execOk(["systemd-inhibit", "--list", "--no-pager"])).stdout, "the lock is released").not.toContain(UPDATER)
    expect(await updaterProcesses(booted)).toEqual([])
  })

  it("e. a disabled, stopped agent unit is left alone, even with a due plan", async () => {
    const { booted, publisher } = await installed(["1.0.0"], "1.0.0")
    expect((await booted.systemctl("is-enabled", "driveclient")).stdout.trim()).toBe("enabled")
    expectOk(await booted.systemctl("disable", "driveclient"))
    expectOk(await booted.systemctl("stop", "driveclient"))
    expect((await booted.systemctl("is-enabled", "driveclient")).stdout.trim()).toBe("disabled")
    expect(await agentPid(booted)).toBeUndefined()
    const before = (await events(booted)).length

    await publisher.publish(["1.0.0", "1.1.0"], "1.1.0")
    // A due plan: without the rule, this pass would upgrade.
    const state = JSON.parse(await booted.readFile(STATE)) as Record<string, unknown>
    await booted.writeFile(STATE, `${JSON.stringify({ ...state, plannedUpgrade: { version: "1.1.0", at: Date.now() - 60_000 } })}\n`, 0o600)

    expectOk(await startPass(booted))
    const lines = (await updaterLines(booted)).map((e) => e.MESSAGE ?? "")
    expect(lines.join("\n")).toMatch(/left alone|disabled and the agent is stopped/)
    expect(await installedVersion(booted), "not upgraded").toBe("1.0.0-1")
    expect(await agentPid(booted), "not started").toBeUndefined()
    expect((await booted.systemctl("is-active", "driveclient")).stdout.trim()).toBe("inactive")
    expect((await booted.systemctl("is-enabled", "driveclient")).stdout.trim()).toBe("disabled")
    expect((await events(booted)).length, "no up or down since").toBe(before)
  })

  it("f. systemctl stop during a package transaction waits for it: dpkg consistent, the new agent up, before the unit is inactive", async () => {
    const { booted, publisher } = await installed(["1.0.0"], "1.0.0")
    await publisher.publish(["1.0.0", "1.1.0-slow-scripts"], "1.1.0")
    expectOk(await startPass(booted))
    await makePlanDue(booted)

    expectOk(await booted.execOk(["systemctl", "start", "--no-block", SERVICE]))
    await waitFor(
      "the new package's preinst to run (the transaction is under way)",
      async () => /preinst 1\.1\.0/.test(await booted.readFileOr(SCRIPTS_LOG, "")),
      60_000,
      booted
    )
    const stop = await booted.exec(["systemctl", "stop", SERVICE], { timeoutMs: 180_000 })
    const stoppedAt = Date.now()
    expectOk(stop)
    expect(stop.finishedAt - stop.startedAt, "stop waited for the rest of the transaction (postinst alone sleeps 3 s)")
      .toBeGreaterThan(2_000)
    // Stopped, not failed: the pass was ended by the administrator, and the next one goes on from the state file.
    expect(await serviceState(booted)).toMatchObject({ ActiveState: "inactive", Result: "success" })

    // Everything below was already so when `systemctl stop` returned, i.e. when the unit was inactive.
    const scripts = await booted.readFile(SCRIPTS_LOG)
    expect(scripts, "the postinst ran to its end").toMatch(/postinst 1\.1\.0/)
    expect(await installedVersion(booted), "dpkg status: installed, the new version").toBe("1.1.0-1")
    const audit = await booted.execOk(["dpkg", "--audit"])
    expect(audit.stdout.trim(), "dpkg --audit").toBe("")
    const up = (await events(booted)).filter((e) => e.kind === "up")
    expect(up.at(-1), "the agent was started again on the new version before the unit was inactive").toMatchObject({ version: "1.1.0" })
    expect(up.at(-1)!.at).toBeLessThanOrEqual(stoppedAt)
    expect(await agentPid(booted)).toBeDefined()
    expect(await updaterProcesses(booted)).toEqual([])
    expect((await booted.processes()).filter((p) => ["dpkg", "apt-get"].includes(p.comm)).map((p) => p.cmdline.join(" "))).toEqual([])

    // No version marked as failed (1.1.0 was installed); whatever the interrupted pass left to
    // recover, the next pass settles: it succeeds, finds the agent up to date, leaves it running.
    const agent = await agentPid(booted)
    const state = JSON.parse(await booted.readFile(STATE)) as Record<string, unknown>
    expect(state["failedVersion"], "1.1.0 was installed; it did not fail").toBeUndefined()
    const next = await startPass(booted)
    expectOk(next)
    const invocation = (await serviceState(booted))["InvocationID"]
    expect((await booted.journal([`_SYSTEMD_INVOCATION_ID=${invocation}`])).map((e) => e.MESSAGE).join("\n")).toMatch(/up to date/)
    expect(await agentPid(booted), "the next pass does not touch the agent").toBe(agent)
    const settled = JSON.parse(await booted.readFile(STATE)) as Record<string, unknown>
    expect(settled["journal"], "no upgrade journal after the next pass").toBeUndefined()
    expect(settled["failedVersion"]).toBeUndefined()
  })
})

/**
 * A 2.0.0-1 package as that release was: today's bundle, but the daemon-era unit (Type=simple,
 * `-d`, wanted by multi-user.target), no timer, and that release's maintainer scripts
 * (fixtures/daemon-era).
 */
const daemonEraDeb = async (): Promise<string> => {
  const era = path.join(E2E_DIR, "fixtures", "daemon-era")
  const tree = await fs.mkdtemp(path.join(built.work, "daemon-era-"))
  await execOk(["dpkg-deb", "-R", built.revision1.deb, tree])
  await fs.copyFile(path.join(era, "cloudbackup-updater.service"), path.join(tree, "lib/systemd/system", SERVICE))
  await fs.rm(path.join(tree, "lib/systemd/system", TIMER))
  for (const script of ["postinst", "prerm", "postrm"]) {
    await fs.copyFile(path.join(era, script), path.join(tree, "DEBIAN", script))
    await fs.chmod(path.join(tree, "DEBIAN", script), 0o755)
  }
  const control = path.join(tree, "DEBIAN", "control")
  await fs.writeFile(control, (await fs.readFile(control, "utf8")).replace(/^Version: .*$/m, "Version: 2.0.0-1"))
  const md5sums = path.join(tree, "DEBIAN", "md5sums")
  await fs.writeFile(md5sums, (await fs.readFile(md5sums, "utf8")).split("\n").filter((l) => !l.endsWith(TIMER)).join("\n"))
  const deb = path.join(built.work, `${path.basename(tree)}.deb`)
  await execOk(["dpkg-deb", "--root-owner-group", "-b", tree, deb])
  return deb
}

describe("an install from the daemon era (before 2.1.0) under a booted systemd", () => {
  /** Boots a root and installs the 2.0.0-1 package, whose daemon installs the agent. */
  const daemonEra = async () => {
    const world = await boot()
    const { booted, server, publisher } = world
    await publisher.publish(["1.0.0"], "1.0.0")
    await booted.writeFile(OPTIONS, optionsFile(server.url))
    expectOk(await booted.exec(["dpkg", "-i", await booted.copyIn(built.shim.deb)], { env: DPKG_ENV }))
    expectOk(await dpkgInstall(booted, await daemonEraDeb()))
    expect(await booted.exists(`/etc/systemd/system/multi-user.target.wants/${SERVICE}`)).toBe(true)
    // The pass is over once it is remembered (the agent starts while dpkg still runs).
    const passDone = async () =>
      (await agentPid(booted)) !== undefined && /"lastCheck"/.test(await booted.readFileOr(STATE, ""))
    await waitFor("the daemon to install the agent and end its pass", passDone, FIRST_PASS_MS, booted)
    const daemon = await updaterProcesses(booted)
    expect(daemon, "the daemon runs").toHaveLength(1)
    expect(daemon[0]).toMatch(/ -d /)
    return world
  }

  it("h. upgrading the package moves it to the timer: the daemon stops, the timer runs the passes, the agent is untouched", async () => {
    const { booted } = await daemonEra()
    const agent = await agentPid(booted)

    expectOk(await dpkgInstall(booted, built.revision1.deb))
    // The daemon is gone, and so is what made it start at boot.
    expect(await updaterProcesses(booted), "no daemon after the upgrade").toEqual([])
    expect(await booted.exists(`/etc/systemd/system/multi-user.target.wants/${SERVICE}`)).toBe(false)
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim()).toBe("enabled")
    expect((await booted.systemctl("is-active", TIMER)).stdout.trim()).toBe("active")

    // The daemon's run of the unit ended with the upgrade; the timer's pass is a new one.
    const daemonRun = (await serviceState(booted))["InvocationID"]
    await waitFor(
      "the timer's first pass to end",
      async () => {
        const state = await serviceState(booted)
        return state["InvocationID"] !== daemonRun && ["inactive", "failed"].includes(state["ActiveState"] ?? "")
      },
      FIRST_PASS_MS,
      booted
    )
    const pass = await serviceState(booted)
    expect(pass, "the timer's first pass").toMatchObject({ Result: "success", ExecMainStatus: "0" })
    const lines = await booted.journal([`_SYSTEMD_INVOCATION_ID=${pass["InvocationID"]}`])
    expect(lines.map((e) => e.MESSAGE).join("\n")).toMatch(/up to date/)
    expect(await agentPid(booted), "the agent runs on, untouched").toBe(agent)
    expect(await updaterProcesses(booted), "nothing resident").toEqual([])
  })

  it("i. a daemon the administrator disabled becomes a disabled timer: nothing starts", async () => {
    const { booted } = await daemonEra()
    expectOk(await booted.systemctl("disable", "--now", SERVICE))
    expect(await updaterProcesses(booted)).toEqual([])
    const lastRun = (await serviceState(booted))["InvocationID"]

    expectOk(await dpkgInstall(booted, built.revision1.deb))
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim()).toBe("disabled")
    expect((await booted.systemctl("is-active", TIMER)).stdout.trim()).toBe("inactive")
    await sleep(15_000) // longer than the timer's OnActiveSec: had it started, its pass would have run by now
    expect((await serviceState(booted))["InvocationID"], "no pass ran since the daemon was stopped").toBe(lastRun)
    expect(await updaterProcesses(booted)).toEqual([])

    // The administrator's choice also holds across a later upgrade.
    expectOk(await dpkgInstall(booted, built.revision2.deb))
    expect((await booted.systemctl("is-enabled", TIMER)).stdout.trim()).toBe("disabled")
  })
})
