import { describe, expect, it } from "vitest"
import { FleetDashboard, queries, QUERIES } from "../../src/domain/FleetDashboard.js"
import { families, type MetricsFacts, PREFIX, render } from "../../src/domain/Metrics.js"
import { EVERY_METRIC, T, UP_TO_DATE } from "../support/MetricsFacts.js"

const REASON = EVERY_METRIC.failure!

/** An agent the package database does not know, stopped, once rolled back long ago. */
const MISSING: MetricsFacts = {
  ...UP_TO_DATE,
  installed: undefined,
  agentRunning: false,
  rollbacks: 1
}

/** The agent that rolled back (EVERY_METRIC), one pass later: nothing failed, nothing planned, the version still held back. */
const AFTER_ROLLBACK: MetricsFacts = { ...EVERY_METRIC, failure: undefined, plannedUpgrade: undefined, checkedAt: T + 3_600_000 }

/** The files' samples as a scrape reads them: name, labels, value. */
const scrape = (text: string) =>
  text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => {
    const [, name, labels, value] = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)!
    const pairs = [...(labels ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, label, text]) => [label!, text!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))])
    return { name: name!, labels: Object.fromEntries(pairs) as Record<string, string>, value: Number(value) }
  })

/** The PromQL of `QUERIES`, evaluated over the files' text. */
const evaluate = (files: ReadonlyArray<string>) => {
  const samples = files.flatMap(scrape)
  return Object.fromEntries(
    Object.entries(QUERIES).map(([key, spec]) => {
      const matching = samples.filter((sample) => sample.name === `${PREFIX}${spec.metric}`)
      const add = (total: number | undefined, value: number) => (total ?? 0) + (spec.op === "count" ? 1 : value)
      if (!("by" in spec)) return [key, matching.reduce<number | null>((total, s) => add(total ?? undefined, s.value), null)]
      const groups: Record<string, number> = {}
      for (const sample of matching) groups[sample.labels[spec.by] ?? ""] = add(groups[sample.labels[spec.by] ?? ""], sample.value)
      return [key, groups]
    })
  )
}

describe("the fleet's dashboard", () => {
  it("the PromQL of each panel", () => {
    expect(queries).toEqual({
      reporting: "count(cloudbackup_updater_agent_info)",
      installed: "count by (installed) (cloudbackup_updater_agent_info)",
      agentsRunning: "sum(cloudbackup_updater_agent_running)",
      plannedUpgrades: "count by (version) (cloudbackup_updater_planned_upgrade_timestamp_seconds)",
      rollbacks: "sum(cloudbackup_updater_rollbacks_total)",
      heldBack: "count by (version) (cloudbackup_updater_failed_version_info)",
      lastPassFailed: "count by (reason) (cloudbackup_updater_last_error_info)"
    })
  })

  it("three hosts, counted by hand; a host's new file replaces its old one", () => {
    const dashboard = new FleetDashboard(3)
    expect(dashboard.snapshot(0)).toEqual({
      hour: 0,
      reporting: null,
      installed: {},
      agentsRunning: null,
      plannedUpgrades: {},
      rollbacks: null,
      heldBack: {},
      lastPassFailed: {}
    })
    dashboard.write(0, families(UP_TO_DATE))
    dashboard.write(1, families(EVERY_METRIC))
    dashboard.write(2, families(MISSING))
    expect(dashboard.snapshot(1)).toEqual({
      hour: 1,
      reporting: 3,
      installed: { "": 1, "1.1.0-1": 1, "1.2.0-1": 1 },
      agentsRunning: 2,
      plannedUpgrades: { "1.2.0": 1 },
      rollbacks: 4,
      heldBack: { "1.2.0": 1 },
      lastPassFailed: { [REASON]: 1 }
    })
    dashboard.write(1, families(AFTER_ROLLBACK))
    dashboard.write(2, families({ ...UP_TO_DATE, rollbacks: 1 }))
    expect(dashboard.snapshot(2)).toEqual({
      hour: 2,
      reporting: 3,
      installed: { "1.1.0-1": 1, "1.2.0-1": 2 },
      agentsRunning: 3,
      plannedUpgrades: {},
      rollbacks: 4,
      heldBack: { "1.2.0": 1 },
      lastPassFailed: {}
    })
  })

  it("agrees with the same PromQL evaluated over the files' text as a scrape reads it", () => {
    const fleet = [UP_TO_DATE, EVERY_METRIC, MISSING, AFTER_ROLLBACK, { ...EVERY_METRIC, failure: "a\nb \"c\"", rollbacks: 7 }]
    const dashboard = new FleetDashboard(fleet.length)
    fleet.forEach((facts, host) => dashboard.write(host, families(facts)))
    const { hour: _, ...panels } = dashboard.snapshot(0)
    expect(panels).toEqual(evaluate(fleet.map(render)))
    expect(panels.rollbacks).toBe(0 + 3 + 1 + 3 + 7)
  })
})
