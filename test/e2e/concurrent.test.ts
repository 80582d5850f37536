/**
 * Two one-shot updaters started at the same moment: update passes are serialized, both exit 0,
 * and exactly one package transaction (one stop, one start) happens. The CPU each used is logged
 * for reading, not asserted: timings are too noisy for a test (the waiter's wake-ups are counted
 * in test/layers/NodeFileLock.test.ts instead).
 */
import { describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { describeResult } from "./lib/exec.js"
import { ALL_PMS, upstream } from "./lib/packageManagers.js"
import { sampleCpu } from "./lib/procfs.js"
import { useScenarios } from "./lib/scenario.js"

describe.each(ALL_PMS)("concurrent one-shot updaters with %s", (pm) => {
  const scenarios = useScenarios()

  it("perform exactly one upgrade between them", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()

    const [first, second] = await Promise.all([s.startUpdater(), s.startUpdater()])
    const cpu = [sampleCpu(first.pid), sampleCpu(second.pid)]
    const runs = await Promise.all([first.done, second.done])
    cpu.forEach((c) => c.stop())
    for (const run of runs) expect(run.code, describeResult(run)).toBe(0)
    const usage = runs.map((run, i) => ({ run, wall: (run.finishedAt - run.startedAt) / 1000, used: cpu[i]?.last() ?? 0 }))
    for (const { run, wall, used } of usage) {
      console.info(`[concurrent ${pm}] updater ${run.pid}: ${wall.toFixed(1)} s, ${used.toFixed(2)} s of CPU`)
    }

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await s.ops.agentTransactions(s.root), "package transactions").toBe(before.transactions + 1)
    const events = (await s.events()).slice(before.events).map((e) => e.kind)
    expect(events, "the agent was stopped and started once").toEqual(["down", "up"])
    expect(await s.agentPid()).toBeDefined()
    await expectCleanAfterPass(s)
  })
})
