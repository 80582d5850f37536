/**
 * Issue 6, fault 1: the updater is killed with SIGKILL — together with the package manager it
 * runs (its whole process group, as a power loss would) — at each step of an upgrade of a
 * running agent, the moment found by watching its journal in state.json (or, in the middle of
 * the package transaction, the slow-scripts variant's maintainer script starting). Any moment
 * must be safe: the kill may land a little after the step was written, and the test records the
 * step the journal actually held. The next one-shot run must recover: exit 0, the agent running
 * the new version, no lock, a clean package database, the journal cleared.
 *
 * Each case prints one line: what was left at the kill and what the next run did.
 */
import { describe, expect, it } from "vitest"
import { describeResult } from "./lib/exec.js"
import {
  eventSummary,
  expectNoJournal,
  expectPackagesClean,
  expectSafeEnd,
  journalReached,
  killUpdaterTree,
  leftLocks,
  lines,
  lockLitter,
  packageState,
  readState,
  runningAgentVersion,
  scriptStarted,
  startUpdaterGroup,
  type UpgradeStep,
  watchFor
} from "./lib/faults.js"
import { stopsWhileAgentLocked } from "./lib/events.js"
import { ALL_PMS, upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { isAlive, sleep } from "./lib/procfs.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

interface KillPoint {
  readonly name: string
  /** Kill as soon as the journal names this step (or, when it was too short to be seen, a later one). */
  readonly step?: UpgradeStep
  /** Kill as soon as the slow-scripts variant's maintainer script has started (dpkg/rpm mid-transaction). */
  readonly script?: "preinst" | "postinst"
  /**
   * The agent holds its backup lock for this many seconds from the start: the updater, done
   * downloading, then waits in its "lock" step (which otherwise lasts a few milliseconds).
   */
  readonly busySeconds?: number
}

const POINTS: ReadonlyArray<KillPoint> = [
  { name: "after the download, waiting for the busy agent's lock", step: "lock", busySeconds: 5 },
  { name: "after the backup lock is taken", step: "stop" },
  { name: "after the agent stopped", step: "transaction" },
  { name: "during the transaction, in the new preinst", script: "preinst" },
  { name: "during the transaction, in the new postinst", script: "postinst" },
  { name: "after the upgrade, before the start", step: "start" },
  { name: "after the start, before the lock release", step: "health-check" }
]

const describeAgent = async (s: Scenario) =>
  (await s.agentPid()) === undefined ? "NOT running" : `${await runningAgentVersion(s)} running`

/** The lines of the next run that say what it did about the interrupted upgrade. */
const RECOVERY_LINE = /recovering|repaired|released the backup lock|starting the agent|removed the stale|upgraded the agent|up to date|error/i

describe.each(ALL_PMS)("updater killed mid-upgrade with %s", (pm) => {
  const scenarios = useScenarios()

  it.each(POINTS)("$name: the next run recovers", async (point) => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", point.script === undefined ? "1.1.0" : "1.1.0-slow-scripts"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()
    if (point.busySeconds !== undefined) await s.makeBusy(point.busySeconds)

    const updater = await startUpdaterGroup(s)
    const hit = point.step !== undefined
      ? await watchFor(s, updater, [IN_ROOT.updaterStateDir], journalReached(s, point.step))
      : await watchFor(s, updater, ["/var/log"], scriptStarted(s, point.script!))
    await killUpdaterTree(s, updater)
    const killed = await updater.done
    expect(hit, `the updater never reached the point\n${describeResult(killed)}`).toBeDefined()
    expect(killed.signal, describeResult(killed)).toBe("SIGKILL")

    const agentAtKill = await s.agentPid()
    const atKill = {
      journal: (await readState(s)).journal,
      agent: agentAtKill === undefined ? "stopped" : "running",
      locks: await leftLocks(s),
      packages: await packageState(s)
    }
    // Only the agent (with its sleep, and a backup's timer) outlives the kill.
    const processes = await s.root.processes()
    const theAgents = new Set([
      agentAtKill,
      ...processes.filter((p) => p.cmdline.join(" ").includes("driveclient-busy")).map((p) => p.pid)
    ])
    const survivors = processes.filter((p) => !theAgents.has(p.pid) && !theAgents.has(p.ppid))
    expect(survivors.map((p) => `${p.pid} ${p.cmdline.join(" ")}`), "everything the updater started died with it").toEqual([])
    const transactionsAtKill = await s.ops.agentTransactions(s.root)

    const next = await s.runUpdater()
    const transactions = await s.ops.agentTransactions(s.root)
    console.info(
      [
        `[kill ${pm}] ${point.name}:`,
        `  journal at the kill: ${atKill.journal === undefined ? "none" : `"${atKill.journal.step}" (lock held: ${atKill.journal.holdsAgentLock})`}`,
        `  left by the kill: agent ${atKill.agent}, locks [${atKill.locks.join(", ")}], package: ${atKill.packages}, ` +
          `transactions ${transactionsAtKill - before.transactions}`,
        `  next run: exit ${next.code}, ${transactions - transactionsAtKill} more transaction(s); ` +
          lines(next).filter((l) => RECOVERY_LINE.test(l)).join(" | "),
        `  end: ${await s.installedVersion()} installed, agent ${await describeAgent(s)}, package: ${await packageState(s)}, ` +
          `locks [${(await leftLocks(s)).join(", ")}], lock litter [${(await lockLitter(s)).join(", ")}]`
      ].join("\n")
    )

    expect(next.code, describeResult(next)).toBe(0)
    if (atKill.journal !== undefined) {
      expect(next.stderr, describeResult(next)).toMatch(/finishing an upgrade of the agent .* that ended before its/)
    }
    expect(upstream(await s.installedVersion()), "the installed agent").toBe("1.1.0")
    expect(await runningAgentVersion(s), "the running agent's version").toBe("1.1.0")
    expect(stopsWhileAgentLocked(await s.events()), "the agent was never stopped during its backup").toEqual([])
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
  })

  it("during the transaction, the updater alone killed (the package manager runs on): a next run started at once recovers", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0-slow-scripts"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })

    const updater = await startUpdaterGroup(s)
    const hit = await watchFor(s, updater, ["/var/log"], scriptStarted(s, "preinst"))
    try {
      process.kill(updater.pid, "SIGKILL")
    } catch { /* gone */ }
    while (await isAlive(updater.pid)) await sleep(5)
    const orphans = (await s.root.processes()).map((p) => p.cmdline.join(" ")).filter((c) => /apt-get|dpkg|dnf|zypper|\brpm\b/.test(c))
    const atKill = { journal: (await readState(s)).journal, packages: await packageState(s) }
    expect(hit, "the updater reached the transaction").toBeDefined()

    const next = await s.runUpdater()
    const killed = await updater.done
    expect(killed.signal, describeResult(killed)).toBe("SIGKILL")
    console.info(
      [
        `[kill ${pm}] the updater alone, during the transaction (in the new preinst):`,
        `  journal at the kill: ${atKill.journal === undefined ? "none" : `"${atKill.journal.step}"`}; package: ${atKill.packages}; still running: ${orphans.join("; ")}`,
        `  next run (started at once): exit ${next.code}; ${lines(next).filter((l) => RECOVERY_LINE.test(l)).join(" | ")}`,
        `  end: ${await s.installedVersion()} installed, agent ${await describeAgent(s)}, package: ${await packageState(s)}`
      ].join("\n")
    )
    expect(next.code, describeResult(next)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await runningAgentVersion(s)).toBe("1.1.0")
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
  })

  it("after the upgrade, before the start, of a new agent that does not stay running: the agent runs in the end", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0-crashing-agent"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })

    const updater = await startUpdaterGroup(s)
    const hit = await watchFor(s, updater, [IN_ROOT.updaterStateDir], journalReached(s, "start"))
    await killUpdaterTree(s, updater)
    const killed = await updater.done
    expect(hit, `the updater never reached the point\n${describeResult(killed)}`).toBeDefined()
    const journal = (await readState(s)).journal

    const next = await s.runUpdater()
    // The crashing agent lives 1 s: look again once the health-check grace (3 s) has passed.
    await sleep(3000)
    const events = eventSummary(await s.events())
    console.info(
      `[kill ${pm}] before the start of a crashing 1.1.0 (journal "${journal?.step}"): next run exit ${next.code}; ` +
        `${lines(next).filter((l) => RECOVERY_LINE.test(l)).join(" | ")}; then ${await s.installedVersion()} installed, ` +
        `agent ${await describeAgent(s)}; events ${events.join(", ")}`
    )
    expect(await s.agentPid(), `the agent runs 3 s after the next run\n${describeResult(next)}`).toBeDefined()
    await expectPackagesClean(s)
    await expectSafeEnd(s, { wasRunning: true })
  })
})
