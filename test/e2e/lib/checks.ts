/** Assertions shared by the scenarios: what every update pass must leave behind. */
import * as fs from "node:fs/promises"
import { expect } from "vitest"
import { IN_ROOT } from "./paths.js"
import { openFds } from "./procfs.js"
import type { Scenario } from "./scenario.js"

/** No backup lock and no lock of the updater's own is left. */
export const expectNoLocks = async (s: Scenario): Promise<void> => {
  expect(await s.root.exists(IN_ROOT.agentLock), `${IN_ROOT.agentLock} was left behind`).toBe(false)
  const stateDir = s.root.path(IN_ROOT.updaterStateDir)
  const left = (await fs.readdir(stateDir).catch(() => [] as string[])).filter((name) => /lock/i.test(name))
  expect(left, `lock files left in ${IN_ROOT.updaterStateDir}`).toEqual([])
}

/** Nothing runs in the root but the agent (and the `sleep` it is waiting on). */
export const expectNoStrayProcesses = async (s: Scenario): Promise<void> => {
  const agent = await s.agentPid()
  const stray = (await s.root.processes()).filter(
    (p) => p.pid !== agent && !(p.ppid === agent && p.comm === "sleep")
  )
  expect(
    stray.map((p) => `${p.pid} ${p.state} ${p.cmdline.join(" ") || p.comm}`),
    "processes left running in the root"
  ).toEqual([])
}

/** Descriptors the fixture agent opens itself (its script, its stdio). */
const AGENT_OWN_FDS = [
  "/dev/null",
  "/var/log/driveclient.log",
  "/var/log/driveclient-events.log",
  "/usr/sbin/driveclient",
  "/usr/sbin/driveclient (deleted)"
]

/** The running agent holds only descriptors of its own: no pipe, socket or file of the updater. */
export const expectAgentInheritedNoFds = async (s: Scenario, pid: number): Promise<void> => {
  const foreign = (await openFds(pid))
    .map((fd) => ({ ...fd, target: s.root.toInRoot(fd.target) }))
    .filter((fd) => !AGENT_OWN_FDS.includes(fd.target))
    .map((fd) => `fd ${fd.fd} -> ${fd.target}`)
  expect(foreign, `descriptors the agent (pid ${pid}) did not open itself`).toEqual([])
}

/** The checks every update pass must pass, running agent or not. */
export const expectCleanAfterPass = async (s: Scenario): Promise<void> => {
  await expectNoLocks(s)
  await expectNoStrayProcesses(s)
  const pid = await s.agentPid()
  if (pid !== undefined) await expectAgentInheritedNoFds(s, pid)
}
