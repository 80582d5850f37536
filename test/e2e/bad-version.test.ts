/**
 * A bad version.txt — a server error, garbage, an HTML page, an empty body, a dropped connection,
 * nothing listening — is an error: exit 1 with a clear one-line message, and nothing on the host
 * changes (agent version and pid, its events, package transactions, repository files).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { expectNoLocks, expectNoStrayProcesses } from "./lib/checks.js"
import { describeResult } from "./lib/exec.js"
import { unusedPort } from "./lib/net.js"
import { ALL_PMS } from "./lib/packageManagers.js"
import { type Fault, Faults } from "./lib/repoServer.js"
import { Scenario, type Snapshot } from "./lib/scenario.js"

interface BadCase {
  readonly name: string
  readonly fault?: Fault
  /** Points -r at a port nothing listens on instead. */
  readonly unreachable?: boolean
  /** What the one-line error must name. */
  readonly names: RegExp
}

const CASES: ReadonlyArray<BadCase> = [
  { name: "HTTP 500", fault: Faults.status(500), names: /version\.txt/ },
  { name: "HTTP 404", fault: Faults.status(404), names: /version\.txt/ },
  { name: "garbage", fault: Faults.garbage, names: /version\.txt/ },
  { name: "an HTML page", fault: Faults.html, names: /version\.txt/ },
  { name: "an empty body", fault: Faults.empty, names: /version\.txt/ },
  { name: "a dropped connection", fault: Faults.close, names: /version\.txt|127\.0\.0\.1/ },
  { name: "nothing listening", unreachable: true, names: /version\.txt|127\.0\.0\.1|refused/i }
]

describe.each(ALL_PMS)("bad version.txt with %s", (pm) => {
  // One root for all cases: each must leave it exactly as it found it.
  let s: Scenario
  let baseline: Snapshot
  beforeAll(async () => {
    s = await Scenario.create(pm)
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    baseline = await s.snapshot()
  })
  afterAll(async () => s?.dispose())

  it.each(CASES)("fails cleanly on $name", async ({ fault, unreachable, names }) => {
    s.server.clearFaults()
    if (fault !== undefined) s.server.injectFault("/version.txt", fault)
    const repository = unreachable === true ? `http://127.0.0.1:${await unusedPort()}` : s.server.url

    const run = await s.runUpdater({ repository, timeoutMs: 120_000 })
    s.server.clearFaults()

    expect(run.code, describeResult(run)).toBe(1)
    const errorLines = run.stderr.split("\n").filter((line) => line.trim() !== "")
    expect(errorLines, `one-line error\n${describeResult(run)}`).toHaveLength(1)
    expect(errorLines[0], describeResult(run)).toMatch(names)
    expect(await s.snapshot(), "nothing changed").toEqual(baseline)
    await expectNoLocks(s)
    await expectNoStrayProcesses(s)
  })
})
