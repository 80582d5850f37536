/**
 * A ~20 MiB agent package over a link throttled to 4 MiB/s: the download takes seconds, and the
 * agent's downtime (down -> up in its event log) must not include it — every byte of the package
 * is served before the agent stops.
 */
import { describe, expect, it } from "vitest"
import { expectCleanAfterPass } from "./lib/checks.js"
import { outages } from "./lib/events.js"
import { describeResult } from "./lib/exec.js"
import { BIG_PADDING_MIB } from "./lib/fixtures.js"
import { ALL_PMS, upstream } from "./lib/packageManagers.js"
import { useScenarios } from "./lib/scenario.js"

const RATE = 4 * 1024 * 1024
const BIG_PACKAGE = /driveclient[-_]1\.2\.0-1.*\.(deb|rpm)$/

describe.each(ALL_PMS)("large download with %s", (pm) => {
  const scenarios = useScenarios()

  it("keeps the agent running while the package downloads", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.2.0-big"], "1.2.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()
    s.server.throttle(/\.(deb|rpm)$/, RATE)

    const run = await s.runUpdater({ timeoutMs: 180_000 })
    expect(run.code, describeResult(run)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.agentPid()).toBeDefined()

    const downloads = s.server.requestsFor(BIG_PACKAGE).filter((r) => r.method === "GET" && r.status === 200)
    expect(downloads.length, "the big package was downloaded").toBeGreaterThan(0)
    for (const d of downloads) expect(d.bytes).toBeGreaterThan(BIG_PADDING_MIB * 1024 * 1024)
    const transferMs = Math.max(...downloads.map((d) => (d.finishedAt ?? Infinity) - d.startedAt))
    expect(transferMs, "the throttle made the download slow").toBeGreaterThanOrEqual(4000)

    const [outage, ...more] = outages((await s.events()).slice(before.events))
    expect(more, "one outage").toEqual([])
    expect(outage?.ms, "the agent came back").toBeDefined()
    for (const d of downloads) {
      expect(d.finishedAt ?? Infinity, "the download ended before the agent stopped").toBeLessThanOrEqual(
        outage?.down.at ?? -Infinity
      )
    }
    // Downtime against transfer time is reported, not asserted (timings are noisy); the order above is the proof.
    console.info(`[download ${pm}] package transfer ${transferMs} ms, agent downtime ${outage?.ms} ms`)
    await expectCleanAfterPass(s)
  })
})
