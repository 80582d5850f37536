/**
 * Contract conditions 4-6: an older agent is upgraded — left stopped if it was stopped; if it
 * was running, downloaded first, then stopped, upgraded and started again; if it was busy, only
 * after it released the backup lock, with the updater holding that lock while the agent is down.
 */
import { describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { type AgentEvent, outages, stopsWhileAgentLocked } from "./lib/events.js"
import { describeResult } from "./lib/exec.js"
import { ALL_PMS, upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { isAlive, sleep } from "./lib/procfs.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

const PACKAGE_1_1_0 = /driveclient[-_]1\.1\.0-1.*\.(deb|rpm)$/

const summary = (events: ReadonlyArray<AgentEvent>) =>
  events.map((e) => (e.kind === "up" || e.kind === "down" ? `${e.kind} ${e.version}` : e.kind))

/** Installs 1.0.0 (running or not) with 1.0.0 and 1.1.0 published and version.txt at 1.1.0. */
const oldAgent = async (s: Scenario, running: boolean) => {
  await s.publish(["1.0.0", "1.1.0"], "1.1.0")
  await s.configureRepo()
  await s.installAgent("1.0.0", { running })
  return s.snapshot()
}

describe.each(ALL_PMS)("upgrade with %s", (pm) => {
  const scenarios = useScenarios()

  it("upgrades a stopped agent and leaves it stopped", async () => {
    const s = await scenarios.create(pm)
    const before = await oldAgent(s, false)

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await s.agentPid(), "the agent was not started").toBeUndefined()
    expect(summary((await s.events()).slice(before.events))).toEqual([])
    expect(await s.ops.agentTransactions(s.root)).toBe(before.transactions + 1)
    await expectCleanAfterPass(s)
  })

  it("downloads first, then stops, upgrades and restarts an idle agent", async () => {
    const s = await scenarios.create(pm)
    const before = await oldAgent(s, true)

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    const pid = await s.agentPid()
    expect(pid, "the agent runs again").toBeDefined()
    expect(pid).not.toBe(before.pid)
    expect(await isAlive(before.pid ?? -1), "the old agent is gone").toBe(false)
    const events = (await s.events()).slice(before.events)
    expect(summary(events)).toEqual(["down 1.0.0", "up 1.1.0"])
    expect(events[1]).toMatchObject({ kind: "up", pid })
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])

    // The new package was fetched while the old agent still ran.
    const [outage] = outages(events)
    const downloads = s.server.requestsFor(PACKAGE_1_1_0).filter((r) => r.status === 200)
    expect(downloads.length, "the 1.1.0 package was downloaded").toBeGreaterThan(0)
    for (const download of downloads) {
      expect(download.finishedAt ?? Infinity, "download finished before the agent stopped").toBeLessThanOrEqual(
        outage?.down.at ?? -Infinity
      )
    }
    expect(await s.ops.agentTransactions(s.root)).toBe(before.transactions + 1)
    await expectCleanAfterPass(s)
  })

  it("waits for a busy agent's lock, then upgrades it holding the lock itself", async () => {
    const s = await scenarios.create(pm)
    const before = await oldAgent(s, true)
    const busySeconds = 5
    await s.makeBusy(busySeconds)
    const lockedAt = Date.now()

    const updater = await s.startUpdater()
    // Half-way through the backup the updater is still waiting and the agent still runs.
    await sleep(2500)
    expect(await isAlive(updater.pid), "the updater waits while the agent is busy").toBe(true)
    expect(await s.agentPid()).toBe(before.pid)
    expect(summary((await s.events()).slice(before.events))).toEqual(["lock"])

    const run = await updater.done
    expect(run.code, describeResult(run)).toBe(0)
    expect(run.finishedAt - lockedAt).toBeGreaterThanOrEqual(busySeconds * 1000 - 500)

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    const pid = await s.agentPid()
    expect(pid, "the agent runs again").toBeDefined()
    const events = (await s.events()).slice(before.events)
    expect(summary(events)).toEqual(["lock", "unlock", "down 1.0.0", "up 1.1.0"])
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])
    const down = events.find((e) => e.kind === "down")
    expect(down, "the updater held the backup lock while the agent was down").toMatchObject({
      lockOwner: updater.pid
    })
    expect(await s.root.exists(IN_ROOT.agentLock)).toBe(false)
    await expectCleanAfterPass(s)
  })

  it("gives the backup lock back as soon as the new agent is up: a backup may start while its health is watched", async () => {
    const s = await scenarios.create(pm)
    const before = await oldAgent(s, true)
    // The scenario's --health-grace (3 s) leaves the time to start a backup while the new agent is watched.
    const updater = await s.startUpdater()
    let events = (await s.events()).slice(before.events)
    for (let i = 0; i < 600 && !events.some((e) => e.kind === "up") && (await isAlive(updater.pid)); i++) {
      await sleep(50)
      events = (await s.events()).slice(before.events)
    }
    expect(summary(events)).toEqual(["down 1.0.0", "up 1.1.0"])
    // The updater still watches the new agent, and a backup can start.
    for (let i = 0; i < 100 && (await s.root.exists(IN_ROOT.agentLock)); i++) await sleep(20)
    expect(await isAlive(updater.pid), "the updater still watches the new agent").toBe(true)
    await s.makeBusy(1)
    const run = await updater.done
    expect(run.code, describeResult(run)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(summary((await s.events()).slice(before.events)).slice(0, 3)).toEqual(["down 1.0.0", "up 1.1.0", "lock"])
    expect(stopsWhileAgentLocked(await s.events())).toEqual([])
  })
})
