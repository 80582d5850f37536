/**
 * Contract condition 3: an agent at (or above) version.txt is left completely alone — no
 * package transaction, no service stopped, started or touched, repository files unchanged.
 */
import { describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { describeResult } from "./lib/exec.js"
import { ALL_PMS } from "./lib/packageManagers.js"
import { useScenarios } from "./lib/scenario.js"

describe.each(ALL_PMS)("up to date with %s", (pm) => {
  const scenarios = useScenarios()

  it.each([
    { state: "running", running: true, published: "1.2.0" },
    { state: "stopped", running: false, published: "1.2.0" },
    { state: "running, newer than version.txt", running: true, published: "1.1.0" }
  ])("touches nothing when the agent is current ($state)", async ({ running, published }) => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], published)
    await s.configureRepo()
    await s.installAgent("1.2.0", { running })
    const before = await s.snapshot()

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    const after = await s.snapshot()
    expect(after, "nothing changed: version, agent pid, events, transactions, repository files").toEqual(before)
    expect(after.pid === undefined).toBe(!running)
    await expectCleanAfterPass(s)
  })
})
