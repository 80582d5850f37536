/**
 * Issue 6, faults 2-6 (fault 1, the killed updater, is faults-kill.test.ts): a package whose
 * maintainer script fails, a new agent that does not stay running, a stale backup lock, the
 * package manager's lock held by another program, a package held by the administrator. Each
 * ends with the agent running if it was running before, no backup lock, no pass lock, and no
 * process of the updater's left.
 */
import { describe, expect, it } from "vitest"
import { stopsWhileAgentLocked } from "./lib/events.js"
import { describeResult, type ExecResult } from "./lib/exec.js"
import {
  deadPid,
  eventSummary,
  expectNoJournal,
  expectPackagesClean,
  expectSafeEnd,
  holdPackageLock,
  lines,
  packageState,
  runningAgentVersion,
  runStatus,
  statusJson
} from "./lib/faults.js"
import type { Build } from "./lib/fixtures.js"
import { ALL_PMS, type Pm, upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

const summary = eventSummary

/** The running 1.0.0 agent, with `target` published as 1.1.0 beside 1.0.0 (the rollback target). */
const oldRunningAgent = async (s: Scenario, target: Build) => {
  await s.publish(["1.0.0", target], "1.1.0")
  await s.configureRepo()
  await s.installAgent("1.0.0", { running: true })
  return s.snapshot()
}

/** The one line the updater prints about a failure (its last stderr line, "cloudbackup-updater: ..."). */
const failureLine = (run: ExecResult) => lines({ ...run, stdout: "" }).at(-1) ?? ""

/**
 * The package manager's own error line about the failed script: apt-get's "E:" line (or
 * dpkg's "error processing" line); rpm's scriptlet error or dnf's "Error:" line; zypper's
 * "Installation of … failed" or the rpm lines it quotes (exit 8).
 */
const PACKAGE_MANAGER_ERROR: Readonly<Record<Pm, string>> = {
  apt: "(E: Sub-process /usr/bin/dpkg returned an error code \\(1\\)|dpkg: error processing .*driveclient.*)",
  dnf: "(Error: Transaction failed|error: %prein\\(driveclient-1\\.1\\.0-1\\.el9\\.x86_64\\) scriptlet failed, exit status 1)",
  zypper:
    "(Installation of driveclient-1\\.1\\.0-1\\.el9\\.x86_64 failed|RPM failed: driveclient 1\\.1\\.0 %pre: failing on purpose|" +
    "error: %prein\\(driveclient-1\\.1\\.0-1\\.el9\\.x86_64\\) scriptlet failed, exit status 1)"
}

/**
 * A failing postinst/%post on upgrade, as the package manager reports it: apt-get fails (dpkg
 * cannot configure the unpacked files); zypper puts the package in place and exits 107, naming
 * the scriptlet; dnf only warns and exits 0 (undefined: the upgrade stands). The updater rolls
 * back whenever it is told, as the contract says of a failed maintainer script.
 */
const POSTINST_ERROR: Readonly<Record<Pm, string | undefined>> = {
  apt: PACKAGE_MANAGER_ERROR.apt,
  dnf: undefined,
  zypper: "warning: %post\\(driveclient-1\\.1\\.0-1\\.el9\\.x86_64\\) scriptlet failed, exit status 1"
}

/** The line of a failed transaction that was rolled back: what failed, with the package manager's `error`, and what runs. */
const rolledBackLine = (error: string, previous: string) =>
  new RegExp(
    `^cloudbackup-updater: the upgrade to \\S+ failed \\(the package transaction failed: .*${error}\\); ` +
      `rolled back to ${previous.replace(/\./g, "\\.")}, which is running again$`
  )

describe.each(ALL_PMS)("a failing maintainer script with %s", (pm) => {
  const scenarios = useScenarios()

  it("preinst fails on upgrade: rolled back, exit 1 naming the package manager's error, the old agent runs again", async () => {
    const s = await scenarios.create(pm)
    const before = await oldRunningAgent(s, "1.1.0-failing-preinst")

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(1)
    expect.soft(failureLine(run), describeResult(run)).toMatch(rolledBackLine(PACKAGE_MANAGER_ERROR[pm], before.version!))
    expect(await s.installedVersion(), "the old version").toBe(before.version)
    expect(await runningAgentVersion(s), "the old agent runs again").toBe("1.0.0")
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    console.info(`[faults ${pm}] failing preinst: ${failureLine(run)}; package: ${await packageState(s)}`)
  })

  it("postinst fails on upgrade: the agent runs again whatever the package manager left", async () => {
    const s = await scenarios.create(pm)
    const before = await oldRunningAgent(s, "1.1.0-failing-postinst")

    const run = await s.runUpdater()
    const after = {
      package: await packageState(s),
      agent: await runningAgentVersion(s),
      events: summary((await s.events()).slice(before.events))
    }
    console.info(
      `[faults ${pm}] failing postinst: exit ${run.code}, ${failureLine(run)}; package: ${after.package}; ` +
        `agent ${after.agent} running; events ${after.events.join(", ")}`
    )
    await expectSafeEnd(s, { wasRunning: true })
    const error = POSTINST_ERROR[pm]
    if (error !== undefined) {
      // apt: dpkg has unpacked the new files and fails to configure them; zypper: 1.1.0 is in
      // place. Either way the updater installs the kept 1.0.0 package again.
      expect(run.code, describeResult(run)).toBe(1)
      expect.soft(failureLine(run), describeResult(run)).toMatch(rolledBackLine(error, before.version!))
      expect(await s.installedVersion()).toBe(before.version)
      expect(after.agent).toBe("1.0.0")
      await expectPackagesClean(s)
      await expectNoJournal(s)
    } else {
      // rpm treats a failing %post as a warning ("Error in POSTIN scriptlet"): dnf completes the
      // upgrade and exits 0, so for the updater the upgrade succeeded.
      expect(run.code, describeResult(run)).toBe(0)
      expect(upstream(await s.installedVersion())).toBe("1.1.0")
      expect(after.agent).toBe("1.1.0")
      await expectPackagesClean(s)
      await expectNoJournal(s)
    }

    // The next run leaves it so: the failed version is not tried again (apt, zypper), the upgrade is done (dnf).
    const next = await s.runUpdater()
    console.info(`[faults ${pm}] the run after it: exit ${next.code}: ${lines(next).join(" | ")}; package: ${await packageState(s)}`)
    expect(next.code, describeResult(next)).toBe(0)
    await expectPackagesClean(s)
    await expectSafeEnd(s, { wasRunning: true })
  })
})

describe.each(ALL_PMS)("a new agent that does not stay running, with %s", (pm) => {
  const scenarios = useScenarios()

  it("is rolled back and started, not retried, and a newer good version is installed", async () => {
    const s = await scenarios.create(pm)
    const before = await oldRunningAgent(s, "1.1.0-crashing-agent")

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(1)
    expect(failureLine(run), describeResult(run)).toMatch(
      new RegExp(`did not stay running .*rolled back to ${before.version!.replace(/\./g, "\\.")}, which is running again$`)
    )
    expect(await s.installedVersion(), "rolled back").toBe(before.version)
    expect(await runningAgentVersion(s), "the previous agent runs again").toBe("1.0.0")
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.1.0", "crash 1.1.0", "up 1.0.0"])
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })

    const status = await statusJson(s)
    expect(status["failedVersion"], JSON.stringify(status)).toMatchObject({ version: "1.1.0" })
    const text = await runStatus(s, { json: false })
    expect(text.stdout, describeResult(text)).toMatch(/rolled-back version:\s+1\.1\.0/)

    // The failed version is not tried again.
    const rolledBack = await s.snapshot()
    const again = await s.runUpdater()
    expect(again.code, describeResult(again)).toBe(0)
    expect(again.stderr, describeResult(again)).toMatch(/1\.1\.0 failed and was rolled back \(1\.1\.0-\S+ did not stay running/)
    expect(await s.snapshot(), "nothing touched: version, agent pid, events, transactions").toEqual(rolledBack)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })

    // A newer, good version is.
    await s.publish(["1.0.0", "1.1.0-crashing-agent", "1.2.0"], "1.2.0")
    const newer = await s.runUpdater()
    expect(newer.code, describeResult(newer)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await runningAgentVersion(s)).toBe("1.2.0")
    expect(summary((await s.events()).slice(rolledBack.events))).toEqual(["down 1.0.0", "up 1.2.0"])
    await expectPackagesClean(s)
    await expectSafeEnd(s, { wasRunning: true })
    console.info(`[faults ${pm}] crashing agent: ${failureLine(run)}; then: ${lines(again).at(-1)}; status: ${JSON.stringify(status["failedVersion"])}`)
  })
})

describe.each(ALL_PMS)("a stale backup lock with %s", (pm) => {
  const scenarios = useScenarios()

  it("whose pid is dead is removed with a warning, and the upgrade happens", async () => {
    const s = await scenarios.create(pm)
    const before = await oldRunningAgent(s, "1.1.0")
    const dead = await deadPid(s)
    await s.root.writeFile(IN_ROOT.agentLock, `${dead}\n`)

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)
    expect(run.stderr, describeResult(run)).toMatch(new RegExp(`^warn: removed the stale lock /var/cache/driveclient/backup-running\\.lock: pid ${dead} no longer holds it$`, "m"))
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await runningAgentVersion(s)).toBe("1.1.0")
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.1.0"])
    await expectSafeEnd(s, { wasRunning: true })
  })
})

describe.each(ALL_PMS)("the package manager's lock held by another program, with %s", (pm) => {
  const scenarios = useScenarios()
  const HOLD_SECONDS = 20

  const upgradeWhileLocked = async (s: Scenario, running: boolean, seconds: number) => {
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running })
    // Taken before the holder starts: it lets go `seconds` after this at the earliest.
    const heldFrom = Date.now()
    const held = await holdPackageLock(s, seconds)

    const run = await s.runUpdater()
    const release = await held.released
    console.info(`[faults ${pm}] lock held ${seconds} s (agent ${running ? "running" : "stopped"}): exit ${run.code} after ${run.finishedAt - run.startedAt} ms: ${lines(run).join(" | ")}`)
    await expectSafeEnd(s, { wasRunning: running })
    expect(run.code, describeResult(run)).toBe(0)
    // It waited: the upgrade cannot have finished before the holder let go.
    expect(run.finishedAt, describeResult(release)).toBeGreaterThanOrEqual(heldFrom + seconds * 1000)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    await expectPackagesClean(s)
    return run
  }

  it(`the updater waits for it and upgrades a running agent (held ${HOLD_SECONDS} s)`, async () => {
    const s = await scenarios.create(pm)
    await upgradeWhileLocked(s, true, HOLD_SECONDS)
    expect(await runningAgentVersion(s)).toBe("1.1.0")
  })

  // Not for dnf: dnf 4 waits for its RPMDB lock by itself at every step (zypper fails at once, exit 7).
  it.skipIf(pm === "dnf")("the transaction waits for it (a stopped agent: no download step; held 10 s)", async () => {
    const s = await scenarios.create(pm)
    await upgradeWhileLocked(s, false, 10)
    expect(await s.agentPid()).toBeUndefined()
  })
})

describe.each(ALL_PMS)("a package held by the administrator, with %s", (pm) => {
  const scenarios = useScenarios()

  it("is not upgraded: exit 0, agent untouched, status says it is held", async () => {
    const s = await scenarios.create(pm)
    await oldRunningAgent(s, "1.1.0")
    await s.ops.holdAgent(s.root)
    const before = await s.snapshot()

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)
    expect(run.stderr, describeResult(run)).toMatch(/^warn.*\b(holds|held)\b/m)
    expect(await s.snapshot(), "nothing touched: version, agent pid, events, transactions, repository files").toEqual(before)
    expect(before.pid).toBeDefined()
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])
    await expectSafeEnd(s, { wasRunning: true })

    const text = await runStatus(s, { json: false })
    expect(text.code, describeResult(text)).toBe(0)
    expect(text.stdout, describeResult(text)).toMatch(/^package held:\s+yes$/m)
    expect(text.stdout, describeResult(text)).toMatch(/^note: .*held/m)
    const json = await statusJson(s)
    expect(json["agent"], JSON.stringify(json)).toMatchObject({ held: { value: true } })
    expect(await s.snapshot(), "status changes nothing").toEqual(before)
  })
})
