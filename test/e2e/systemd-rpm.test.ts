/**
 * The real .rpm under a REAL booted systemd: the "systemd-rpm" root (the systemd root and the rpm
 * root in one: Debian 12 with systemd, dnf and rpm, rpmdb at /var/lib/rpm) booted as PID 1 of its
 * own namespaces (lib/booted.ts, through lib/bootedUpdater.ts), the host's network. Everything is
 * done as an administrator would, inside: dnf, rpm, systemctl, journalctl.
 *
 * What is proved are the spec's scriptlets (packaging/rpm/cloudbackup-updater.spec) where systemd
 * really runs: %post enables cloudbackup-updater.timer, %posttrans daemon-reloads, stops a
 * daemon-era service and (re)starts an enabled timer, %preun stops timer and service on erase,
 * %postun removes state and logs; and the move from a daemon-era install (2.0.0, %pre notes it).
 *
 * The root's os-release says Debian: the options file (/etc/sysconfig/cloudbackup-updater,
 * preseeded) tells the updater it is a dnf host. The fixture agent's rpm starts it with its init
 * script, which goes through systemctl under systemd (lib/lsb/init-functions), so the agent runs in
 * the sysv-generated driveclient.service.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  agentPid,
  type Booted,
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
import { describeResult, type ExecResult, execOk } from "./lib/exec.js"
import { E2E_DIR, IN_ROOT } from "./lib/paths.js"
import { sleep } from "./lib/procfs.js"
import { rpmbuild, UPDATER } from "./lib/updaterPackages.js"

const OPTIONS = "/etc/sysconfig/cloudbackup-updater"
/** Where %post leaves word for %posttrans; nothing may be left there after a transaction. */
const RPM_STATE = "/var/lib/rpm-state/cloudbackup-updater"
const STATE_DIR = "/var/lib/cloudbackup-updater"
const TIMER_LINK = `/etc/systemd/system/timers.target.wants/${TIMER}`
const DAEMON_LINK = `/etc/systemd/system/multi-user.target.wants/${SERVICE}`
const AGENT_RPM = (version: string) => `${version}-1.el9`

const { built, boot } = useBootedUpdater("systemd-rpm")

/** `rpm -q`: VERSION-RELEASE of an installed package, undefined when it is not installed. */
const rpmVersion = async (booted: Booted, name: string): Promise<string | undefined> => {
  const result = await booted.exec(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", name])
  return result.code === 0 ? result.stdout.trim() : undefined
}

const dnf = (booted: Booted, ...args: string[]) => booted.exec(["dnf", "-y", "-q", ...args], { timeoutMs: 120_000 })

/** rpm -U of a package file (rpm prints Debian's "use Alien" note; its exit code is what counts). */
const rpmUpgrade = async (booted: Booted, rpm: string) => booted.exec(["rpm", "-U", await booted.copyIn(rpm)], { timeoutMs: 120_000 })

/** What a scriptlet says when a systemctl it runs fails (the spec's own messages: "could not ..."). */
const expectNoScriptletComplaint = (result: ExecResult) =>
  expect(`${result.stdout}\n${result.stderr}`, describeResult(result)).not.toMatch(/could not|scriptlet failed|warning: %/i)

const state = async (booted: Booted, unit: string, verb: "is-enabled" | "is-active") =>
  (await booted.systemctl(verb, unit)).stdout.trim()

/** Waits for a pass other than `previous` (an InvocationID) to end; its state. */
const waitForNextPass = async (booted: Booted, previous: string | undefined, what: string) => {
  await waitFor(
    what,
    async () => {
      const s = await serviceState(booted)
      return s["InvocationID"] !== previous && s["ExecMainExitTimestampMonotonic"] !== "0" &&
        ["inactive", "failed"].includes(s["ActiveState"] ?? "")
    },
    FIRST_PASS_MS,
    booted
  )
  return serviceState(booted)
}

/** The updater's lines of one run of the service. */
const linesOf = async (booted: Booted, invocation: string | undefined) =>
  (await booted.journal([`_SYSTEMD_INVOCATION_ID=${invocation ?? "none"}`])).map((e) => e.MESSAGE ?? "").join("\n")

/**
 * Boots a root, publishes `builds` with `version` in version.txt, preseeds the options (dnf) and
 * installs the nodejs stand-in, as an administrator would before installing the updater.
 */
const prepared = async (builds: ReadonlyArray<"1.0.0" | "1.1.0">, version: string) => {
  const world = await boot()
  const { booted, server, publisher } = world
  await publisher.publish(builds, version)
  const preseeded = optionsFile(server.url, " --package-manager dnf")
  await booted.writeFile(OPTIONS, preseeded)
  expectOk(await booted.exec(["rpm", "-i", await booted.copyIn(built.shim.rpm)]))
  return { ...world, preseeded }
}

describe("the .rpm under a booted systemd", () => {
  it("a. dnf install enables and starts the timer, whose pass installs the agent with dnf; rpm -U keeps it; dnf remove stops, disables and cleans up, the agent runs on", async () => {
    const { booted, publisher, preseeded } = await prepared(["1.0.0", "1.1.0"], "1.1.0")

    const install = await dnf(booted, "install", await booted.copyIn(built.revision1.rpm))
    expectOk(install)
    expectNoScriptletComplaint(install)
    expect(await rpmVersion(booted, UPDATER)).toMatch(/-1$/)
    expect(await booted.readFile(OPTIONS), "the preseeded options are kept").toBe(preseeded)
    expect(await booted.exists(RPM_STATE), "%posttrans leaves no word behind").toBe(false)

    // %post enabled the timer (timers.target wants it), %posttrans started it; its next run is listed.
    expect(await state(booted, TIMER, "is-enabled")).toBe("enabled")
    expect(await booted.exists(TIMER_LINK)).toBe(true)
    expect(await state(booted, TIMER, "is-active")).toBe("active")
    expect(await state(booted, SERVICE, "is-enabled"), "the service is the timer's, not enabled itself").toBe("static")
    const timers = await booted.execOk(["systemctl", "list-timers", "--all", "--no-pager", TIMER])
    const line = timers.stdout.split("\n").find((l) => l.includes(TIMER))
    expect(line, timers.stdout).toMatch(/^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/)

    // Its first pass (OnActiveSec=10s) configures the repository and installs the agent with dnf.
    const pass = await waitForPass(booted)
    expect(pass, "the timer's first pass").toMatchObject({ Result: "success", ExecMainStatus: "0" })
    expect((await booted.show(TIMER, "LastTriggerUSec"))["LastTriggerUSec"], "the timer ran the pass").not.toMatch(/^(n\/a|0)?$/)
    expect(await rpmVersion(booted, "driveclient")).toBe(AGENT_RPM("1.1.0"))
    expect(await booted.readFile(IN_ROOT.yumRepo)).toBe(await publisher.read("redhat/drivesrvr.repo"))
    expect((await updaterLines(booted)).map((e) => e.MESSAGE).join("\n")).toMatch(/installed the agent 1\.1\.0\b/)
    const agent = await agentPid(booted)
    expect(agent, "the agent runs").toBeDefined()
    expect(await unitOf(booted, agent!), "the agent's cgroup").toBe("driveclient.service")
    expect(await state(booted, "driveclient", "is-active")).toBe("active")
    // A oneshot: nothing of the updater stays resident.
    expect(await updaterProcesses(booted), "no cloudbackup-updater process after the pass").toEqual([])
    expect((await serviceState(booted))["ActiveState"]).toBe("inactive")

    // rpm -U of revision 2: the timer stays enabled and active; %posttrans restarted it, so a pass
    // follows within OnActiveSec, finds the agent up to date and leaves it alone.
    const firstRun = (await serviceState(booted))["InvocationID"]
    const upgrade = await rpmUpgrade(booted, built.revision2.rpm)
    expectOk(upgrade)
    expectNoScriptletComplaint(upgrade)
    expect(await rpmVersion(booted, UPDATER)).toMatch(/-2$/)
    expect(await state(booted, TIMER, "is-enabled")).toBe("enabled")
    expect(await state(booted, TIMER, "is-active")).toBe("active")
    expect(await booted.readFile(OPTIONS), "the administrator's options are kept").toBe(preseeded)
    expect(await booted.exists(RPM_STATE)).toBe(false)
    const afterUpgrade = await waitForNextPass(booted, firstRun, "the pass after the upgrade")
    expect(afterUpgrade).toMatchObject({ Result: "success", ExecMainStatus: "0" })
    expect(await linesOf(booted, afterUpgrade["InvocationID"])).toMatch(/up to date/)
    expect(await agentPid(booted), "the agent is untouched").toBe(agent)

    // Logs a SysV-init past may have left (the daemon's own rotations, logrotate's dateext): erase removes them.
    for (const log of ["cloudbackup-updater.log", "cloudbackup-updater.log.1", "cloudbackup-updater.log-20261128.gz"]) {
      await booted.writeFile(`/var/log/${log}`, "old\n")
    }
    const remove = await dnf(booted, "remove", UPDATER)
    expectOk(remove)
    expectNoScriptletComplaint(remove)
    expect(await rpmVersion(booted, UPDATER)).toBeUndefined()
    expect(await state(booted, TIMER, "is-active"), "%preun stopped the timer").toBe("inactive")
    expect(await state(booted, SERVICE, "is-active")).toBe("inactive")
    expect(await booted.exists(TIMER_LINK), "%preun disabled the timer").toBe(false)
    const enabled = await booted.systemctl("is-enabled", TIMER)
    expect(enabled.code, `is-enabled after erase: ${enabled.stdout}${enabled.stderr}`).not.toBe(0)
    expect((await booted.systemctl("list-unit-files", "--no-legend", `${UPDATER}*`)).stdout.trim(), "no unit file known").toBe("")
    const timersAfter = await booted.execOk(["systemctl", "list-timers", "--all", "--no-pager"])
    expect(timersAfter.stdout, "no timer listed").not.toContain(TIMER)
    expect(await booted.exists(STATE_DIR), `${STATE_DIR} after erase`).toBe(false)
    const logs = await booted.execOk(["find", "/var/log", "-name", `${UPDATER}*`])
    expect(logs.stdout.split("\n").filter(Boolean), "logs after erase").toEqual([])
    expect(await booted.exists(RPM_STATE)).toBe(false)
    expect(await updaterProcesses(booted)).toEqual([])
    // The agent is not the updater's to remove: it runs on, in its own unit.
    expect(await rpmVersion(booted, "driveclient")).toBe(AGENT_RPM("1.1.0"))
    expect(await agentPid(booted)).toBe(agent)
    expect(await state(booted, "driveclient", "is-active")).toBe("active")
  })

  it("d. dnf remove after a failed pass leaves no failed unit behind: the system is no longer degraded", async () => {
    const { booted, server } = await prepared(["1.0.0"], "1.0.0")
    const baseline = (await booted.systemctl("is-system-running")).stdout.trim()
    expectOk(await dnf(booted, "install", await booted.copyIn(built.revision1.rpm)))
    // A pass that fails at once (an option this version does not know: exit 2), as a pass that
    // finds the repository unreachable fails after its retries: the service is failed.
    await booted.writeFile(OPTIONS, optionsFile(server.url, " --package-manager dnf --no-such-option"))
    const failing = await booted.systemctl("start", SERVICE)
    expect(failing.code, describeResult(failing)).not.toBe(0)
    expect(await serviceState(booted)).toMatchObject({ ActiveState: "failed", Result: "exit-code", ExecMainStatus: "2" })
    expect((await booted.systemctl("is-system-running")).stdout.trim()).toBe("degraded")

    const remove = await dnf(booted, "remove", UPDATER)
    expectOk(remove)
    expectNoScriptletComplaint(remove)
    // Once the unit files are gone, systemd would otherwise keep the failed service loaded
    // ("not-found failed") and the system degraded until `systemctl reset-failed` or a reboot.
    const units = await booted.execOk(["systemctl", "list-units", "--all", "--no-legend", "--plain", "--no-pager", `${UPDATER}*`])
    expect(units.stdout.trim(), "units of the erased package systemd still holds").toBe("")
    const failed = await booted.execOk(["systemctl", "--failed", "--no-legend", "--plain", "--no-pager"])
    expect(failed.stdout, "systemctl --failed").not.toContain(UPDATER)
    expect((await booted.systemctl("is-system-running")).stdout.trim(), "as before the install").toBe(baseline)
  })
})

/**
 * A 2.0.0-1 rpm as that release was: today's files (from revision 1's rpm), but the daemon-era unit
 * (Type=simple, `-d`, wanted by multi-user.target; /etc/sysconfig as its EnvironmentFile, as the
 * rpm had it), no timer, no shell completions (they came later), and that release's spec and
 * scriptlets (fixtures/daemon-era/cloudbackup-updater.spec), built with rpmbuild as
 * packaging/build.sh builds today's. Built once, on first use.
 */
let daemonEraRpmBuilt: Promise<string> | undefined
const daemonEraRpm = (): Promise<string> => {
  daemonEraRpmBuilt ??= (async () => {
    const era = path.join(E2E_DIR, "fixtures", "daemon-era")
    const tree = await fs.mkdtemp(path.join(built.work, "daemon-era-rpm-"))
    const stage = path.join(tree, "stage")
    const top = path.join(tree, "rpmbuild")
    await fs.mkdir(stage)
    await execOk(["sh", "-c", 'rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet)', "sh", built.revision1.rpm, stage])
    const unitDir = path.join(stage, "usr/lib/systemd/system")
    const unit = (await fs.readFile(path.join(era, SERVICE), "utf8")).replaceAll(
      "/etc/default/cloudbackup-updater",
      OPTIONS
    )
    if (!unit.includes(`EnvironmentFile=-${OPTIONS}`)) throw new Error(`the daemon-era unit names no EnvironmentFile to adapt:\n${unit}`)
    await fs.writeFile(path.join(unitDir, SERVICE), unit, { mode: 0o644 })
    await fs.rm(path.join(unitDir, TIMER))
    await fs.rm(path.join(stage, "usr/share/bash-completion"), { recursive: true })
    await fs.rm(path.join(stage, "usr/share/zsh"), { recursive: true })
    // 2.0.0's layout: the bundle itself was /usr/bin/cloudbackup-updater, run by `env node`; no launcher, no cache.
    const bundle = await fs.readFile(path.join(stage, "usr/lib/cloudbackup-updater/cloudbackup-updater.js"), "utf8")
    await fs.writeFile(path.join(stage, "usr/bin", UPDATER), `#!/usr/bin/env node\n${bundle}`, { mode: 0o755 })
    await fs.rm(path.join(stage, "usr/lib/cloudbackup-updater"), { recursive: true })
    await fs.rm(path.join(stage, "var/cache/cloudbackup-updater"), { recursive: true, force: true })
    await rpmbuild(path.join(era, "cloudbackup-updater.spec"), top, {
      pkg_version: "2.0.0",
      pkg_release: "1",
      stage_dir: stage
    })
    return path.join(top, "RPMS", "noarch", `${UPDATER}-2.0.0-1.noarch.rpm`)
  })()
  return daemonEraRpmBuilt
}

describe("an rpm install from the daemon era (before 2.1.0) under a booted systemd", () => {
  /** Boots a root and installs the 2.0.0-1 rpm, whose %post enables and starts the daemon, which installs the agent. */
  const daemonEra = async () => {
    const world = await prepared(["1.0.0"], "1.0.0")
    const { booted } = world
    const install = await dnf(booted, "install", await booted.copyIn(await daemonEraRpm()))
    expectOk(install)
    expect(await rpmVersion(booted, UPDATER)).toBe("2.0.0-1")
    expect(await booted.exists(DAEMON_LINK), "the daemon is enabled in multi-user.target").toBe(true)
    expect(await state(booted, SERVICE, "is-enabled")).toBe("enabled")
    // The pass is over once it is remembered (the agent starts while its rpm transaction still runs).
    const passDone = async () =>
      (await agentPid(booted)) !== undefined && /"lastCheck"/.test(await booted.readFileOr(STATE, ""))
    await waitFor("the daemon to install the agent and end its pass", passDone, FIRST_PASS_MS, booted)
    expect(await rpmVersion(booted, "driveclient")).toBe(AGENT_RPM("1.0.0"))
    const daemon = await updaterProcesses(booted)
    expect(daemon, "the daemon runs").toHaveLength(1)
    expect(daemon[0]).toMatch(/ -d /)
    // It is the service's main process (its pid as the namespace sees it), in the service's cgroup.
    expect(await state(booted, SERVICE, "is-active")).toBe("active")
    const main = Number((await booted.show(SERVICE, "MainPID"))["MainPID"])
    expect(main, "the service's main pid").toBeGreaterThan(0)
    expect((await booted.readFileOr(`/proc/${main}/cmdline`, "")).split("\0")).toContain("-d")
    expect(await unitOf(booted, main), "the daemon's cgroup").toBe(SERVICE)
    return world
  }

  it("b. rpm -U moves it to the timer: the daemon stops, its multi-user link is gone, the timer is enabled and runs the pass, the agent is untouched", async () => {
    const { booted } = await daemonEra()
    const agent = await agentPid(booted)
    const daemonRun = (await serviceState(booted))["InvocationID"]

    const upgrade = await rpmUpgrade(booted, built.revision1.rpm)
    expectOk(upgrade)
    expectNoScriptletComplaint(upgrade)
    expect(await rpmVersion(booted, UPDATER)).toMatch(/-1$/)
    expect(await rpmVersion(booted, UPDATER)).not.toBe("2.0.0-1")
    // The daemon is gone, and so is what made it start at boot.
    expect(await updaterProcesses(booted), "no daemon after the upgrade").toEqual([])
    expect(await booted.exists(DAEMON_LINK), "multi-user.target no longer wants the service").toBe(false)
    expect(await booted.show(SERVICE, "Type"), "the unit systemd has loaded is today's").toMatchObject({ Type: "oneshot" })
    // The daemon was enabled: so is the timer, and %posttrans started it.
    expect(await state(booted, TIMER, "is-enabled")).toBe("enabled")
    expect(await booted.exists(TIMER_LINK)).toBe(true)
    expect(await state(booted, TIMER, "is-active")).toBe("active")
    expect(await booted.exists(RPM_STATE), "%posttrans leaves no word behind").toBe(false)

    // The daemon's run of the unit ended with the upgrade; the timer's pass is a new one.
    const pass = await waitForNextPass(booted, daemonRun, "the timer's first pass to end")
    expect(pass, "the timer's first pass").toMatchObject({ Result: "success", ExecMainStatus: "0" })
    expect(await linesOf(booted, pass["InvocationID"])).toMatch(/up to date/)
    expect(await agentPid(booted), "the agent runs on, untouched").toBe(agent)
    expect(await rpmVersion(booted, "driveclient")).toBe(AGENT_RPM("1.0.0"))
    expect(await updaterProcesses(booted), "nothing resident").toEqual([])
  })

  it("c. a daemon the administrator disabled becomes a disabled timer: nothing starts, also after a later upgrade", async () => {
    const { booted } = await daemonEra()
    const agent = await agentPid(booted)
    expectOk(await booted.systemctl("disable", "--now", SERVICE))
    expect(await updaterProcesses(booted)).toEqual([])
    expect(await booted.exists(DAEMON_LINK)).toBe(false)
    const lastRun = (await serviceState(booted))["InvocationID"]

    const upgrade = await rpmUpgrade(booted, built.revision1.rpm)
    const upgradedAt = Date.now()
    expectOk(upgrade)
    expectNoScriptletComplaint(upgrade)
    expect(await state(booted, TIMER, "is-enabled")).toBe("disabled")
    expect(await state(booted, TIMER, "is-active")).toBe("inactive")
    expect(await booted.exists(TIMER_LINK)).toBe(false)
    expect(await booted.exists(DAEMON_LINK)).toBe(false)
    expect(await booted.exists(RPM_STATE)).toBe(false)

    // The administrator's choice also holds across a later upgrade.
    const again = await rpmUpgrade(booted, built.revision2.rpm)
    expectOk(again)
    expectNoScriptletComplaint(again)
    expect(await rpmVersion(booted, UPDATER)).toMatch(/-2$/)
    expect(await state(booted, TIMER, "is-enabled")).toBe("disabled")
    expect(await state(booted, TIMER, "is-active")).toBe("inactive")

    // Longer than the timer's OnActiveSec since the first upgrade: had it started, its pass would have run by now.
    await sleep(Math.max(0, upgradedAt + 15_000 - Date.now()))
    expect((await serviceState(booted))["InvocationID"], "no pass ran since the daemon was stopped").toBe(lastRun)
    expect(await updaterProcesses(booted)).toEqual([])
    expect(await agentPid(booted), "the agent is untouched").toBe(agent)
  })
})
