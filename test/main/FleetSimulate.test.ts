/**
 * `simulate --hosts`: the report as printed, and the built executable's flags. The bundle runs
 * with an empty PATH and no options file; a fleet run touches nothing on this machine anyway.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { chart, render, report } from "../../src/main/FleetSimulate.js"
import { runBundle } from "../support/Bundle.js"


const run = (...args: Array<string>) => runBundle(args, { timeoutMs: 60_000 })

describe("simulate --hosts: the printed report", () => {
  it.effect("a chart of simulated against expected, the table, the load and the replay line", () =>
    Effect.gen(function*() {
      const done = yield* report({ hosts: 200, hours: 30, seed: "render", failVersion: undefined, json: false })
      const text = render(done)
      expect(text).toContain("seed render")
      expect(text).toContain("replay: cloudbackup-updater simulate --hosts 200 --hours 30 --seed render")
      expect(text).toMatch(/^100% \|.*[#*]/m)
      expect(text).toMatch(/^ {2}0% \|[#*]/m)
      expect(text).toMatch(/^repository load: version\.txt peak \d+\/min, mean [\d.]+\/min \(\d+ requests\)$/m)
      expect(text).toMatch(/^ +packages +peak \d+\/min, mean [\d.]+\/min \(200 downloads\)$/m)
      expect(text).not.toContain("broken release")
    }))

  it.effect("a broken release: who tried it, rolled back, stayed, and that every agent runs", () =>
    Effect.gen(function*() {
      const done = yield* report({ hosts: 100, hours: 30, seed: "render", failVersion: "1.4.0", json: false })
      const text = render(done)
      expect(text).toContain("broken release 1.4.0: 100 hosts tried it, 100 rolled back, 100 stayed on 1.1.0-1, 0 left on it")
      expect(text).toContain("agent running on all 100 hosts: none was left without one")
      expect(text).toContain("--fail-version 1.4.0")
      const dashboard = text.slice(text.indexOf("dashboard:")).split("\n")
      expect(dashboard[1]).toMatch(/^hour +1 +6 +12 +24 +30$/)
      expect(dashboard).toContain(`installed 1.1.0-1${"100".padStart(16)}${"100".padStart(7).repeat(4)}`)
      expect(dashboard).toContain(`agents running${"100".padStart(19)}${"100".padStart(7).repeat(4)}`)
      expect(dashboard).toContainEqual(expect.stringMatching(/^rollbacks done +\d+ +\d+ +\d+ +100 +100$/))
      expect(dashboard).toContainEqual(expect.stringMatching(/^holding back 1\.4\.0 +[-\d]+ +\d+ +\d+ +100 +100$/))
      expect(dashboard).toContainEqual(expect.stringMatching(/^last pass failed: \[1\] +[-\d ]+$/))
      expect(dashboard.at(-1)).toBe(
        "[1] the upgrade to 1.4.0-1 failed (1.4.0-1 did not stay running for 30s); rolled back to 1.1.0-1, which is running again"
      )
    }))

  it.effect("the dashboard's last column is the report's end: every host upgraded, nothing planned, nothing failed", () =>
    Effect.gen(function*() {
      const done = yield* report({ hosts: 200, hours: 30, seed: "render", failVersion: undefined, json: false })
      const dashboard = render(done).split("dashboard:")[1]!.split("\n")
      const last = (title: string) => dashboard.find((line) => line.startsWith(title))?.trim().split(/ +/).at(-1)
      expect(last("installed 1.2.0-1")).toBe(String((done.table.at(-1)!.upgradedPct / 100) * 200))
      expect(last("installed 1.1.0-1")).toBe("-")
      expect(last("upgrade planned to 1.2.0")).toBe("-")
      expect(last("rollbacks done")).toBe("0")
      expect(dashboard.some((line) => line.startsWith("holding back") || line.startsWith("last pass failed"))).toBe(false)
    }))

  it("the chart has a column per hour (at most 72) and 21 rows", () => {
    const table = Array.from({ length: 49 }, (_, hour) => ({
      hour,
      upgradedPct: Math.min(100, hour * 5),
      triedPct: Math.min(100, hour * 5),
      expectedPct: Math.min(100, hour * 5)
    }))
    const lines = chart(table, "upgradedPct").split("\n")
    expect(lines).toHaveLength(23)
    expect(lines[21]).toBe(`     +${"-".repeat(49)}`)
    expect(lines.slice(0, 21).join("")).not.toContain("*")
    const long = chart(Array.from({ length: 501 }, (_, hour) => ({ ...table[0]!, hour })), "upgradedPct").split("\n")
    expect(long[21]).toBe(`     +${"-".repeat(72)}`)
  })
})

describe("simulate --hosts: the executable", () => {
  it.each([
    [["--hosts", "0"], "--hosts: \"0\" is not a positive whole number of hosts"],
    [["--hosts", "many"], "--hosts: \"many\" is not a positive whole number of hosts"],
    [["--hosts", "1.5"], "--hosts: \"1.5\" is not a positive whole number of hosts"],
    [["--hosts", "10", "--hours", "0"], "--hours: \"0\" is not a positive whole number of hours"],
    [["--hosts", "10", "--hours", "-3"], "--hours: \"-3\" is not a positive whole number of hours"],
    [["--hosts", "2000000"], "--hosts: 2000000 is more than 1000000 hosts"],
    [["--hosts", "10", "--hours", "9000"], "--hours: 9000 is more than 8760 hours"],
    [["--hosts", "10", "--fail-version", "1.x"], "--fail-version: \"1.x\" is not a version (digits and dots)"],
    [["--hosts", "10", "--fail-version", "1.0"], "--fail-version: \"1.0\" is not newer than the fleet's agent 1.1.0"],
    [["--hosts", "10", "--seed", "a b"], "--seed: \"a b\" is not 1 to 64 printable characters without blanks"],
    [["--hours", "5"], "simulate: --hours, --seed, --fail-version and --json go with --hosts"],
    [["--json"], "simulate: --hours, --seed, --fail-version and --json go with --hosts"]
  ])("simulate %j is a usage error: exit 2, one plain line", (args, message) => {
    const { code, stderr, stdout } = run("simulate", ...args)
    expect(code).toBe(2)
    expect(stderr).toBe(`cloudbackup-updater: ${message}\n`)
    expect(stdout).toBe("")
  })

  it("--json prints one object: seed, parameters, the hourly table, load and failure figures; the seed replays it", () => {
    const first = run("simulate", "--hosts", "300", "--hours", "30", "--seed", "cli", "--json", "--fail-version", "1.3")
    expect(first.code).toBe(0)
    expect(first.stderr).toBe("")
    const parsed = JSON.parse(first.stdout)
    expect(parsed).toMatchObject({ seed: "cli", hosts: 300, hours: 30, published: "1.3", installed: "1.1.0-1" })
    expect(parsed.table).toHaveLength(31)
    expect(Object.keys(parsed.table[0]).sort()).toEqual(["expectedPct", "hour", "triedPct", "upgradedPct"])
    expect(parsed.load.versionTxt.peakPerMinute).toBeGreaterThan(0)
    expect(parsed.failure).toMatchObject({ version: "1.3", tried: 300, rolledBack: 300, withoutRunningAgent: 0 })
    expect(parsed.dashboard.queries.installed).toBe("count by (installed) (cloudbackup_updater_agent_info)")
    expect(parsed.dashboard.hours).toHaveLength(31)
    expect(parsed.dashboard.hours.at(-1)).toMatchObject({
      hour: 30,
      reporting: 300,
      installed: { "1.1.0-1": 300 },
      rollbacks: 300,
      heldBack: { "1.3": 300 },
      lastPassFailed: {}
    })
    expect(run("simulate", "--hosts", "300", "--hours", "30", "--seed", "cli", "--json", "--fail-version", "1.3").stdout)
      .toBe(first.stdout)
  })

  it("without --seed a seed is drawn and printed, so that the run can be replayed", () => {
    const first = run("simulate", "--hosts", "50", "--hours", "2")
    expect(first.code).toBe(0)
    const seed = /seed (\S+)/.exec(first.stdout)?.[1]
    expect(seed).toBeDefined()
    const again = run("simulate", "--hosts", "50", "--hours", "2", "--seed", seed!)
    expect(again.stdout).toBe(first.stdout)
  })
})
