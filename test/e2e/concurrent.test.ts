/**
 * Two one-shot updaters started at the same moment: update passes are serialized, both exit 0,
 * and exactly one package transaction (one stop, one start) happens.
 */
import { describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { describeResult } from "./lib/exec.js"
import { PMS, upstream } from "./lib/packageManagers.js"
import { useScenarios } from "./lib/scenario.js"

describe.each(PMS)("concurrent one-shot updaters with %s", (pm) => {
  const scenarios = useScenarios()

  it("perform exactly one upgrade between them", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()

    const [first, second] = await Promise.all([s.startUpdater(), s.startUpdater()])
    const runs = await Promise.all([first.done, second.done])
    for (const run of runs) expect(run.code, describeResult(run)).toBe(0)

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await s.ops.agentTransactions(s.root), "package transactions").toBe(before.transactions + 1)
    const events = (await s.events()).slice(before.events).map((e) => e.kind)
    expect(events, "the agent was stopped and started once").toEqual(["down", "up"])
    expect(await s.agentPid()).toBeDefined()
    await expectCleanAfterPass(s)
  })
})
