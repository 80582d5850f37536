/**
 * `cloudbackup-updater simulate --hosts N`: the staged rollout across a simulated fleet (see
 * `programs/FleetSimulation`), on hosts whose state is in memory; changes nothing. A composition
 * root: it gives each host a `MemoryStateStore`, silences the hosts' logs, and prints the report
 * as a chart or as one JSON object.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as MemoryStateStore from "../layers/MemoryStateStore.js"
import * as FleetSimulation from "../programs/FleetSimulation.js"
import { FLEET_INSTALLED, FLEET_PUBLISHED } from "./FleetVersions.js"

export { FLEET_INSTALLED, FLEET_PUBLISHED } from "./FleetVersions.js"

export interface FleetSimulateOptions {
  readonly hosts: number
  readonly hours: number
  readonly seed: string
  /** The version published at hour 0 is this one, and it is broken. */
  readonly failVersion: string | undefined
  readonly json: boolean
}

export const fleetOptions = (options: FleetSimulateOptions): FleetSimulation.FleetOptions => ({
  hosts: options.hosts,
  hours: options.hours,
  seed: options.seed,
  installed: FLEET_INSTALLED,
  published: options.failVersion ?? FLEET_PUBLISHED,
  broken: options.failVersion !== undefined,
  newStore: MemoryStateStore.make()
})

/** The fleet's run; its hosts' logs (a line per check) are not shown. */
export const report = (options: FleetSimulateOptions) =>
  FleetSimulation.run(fleetOptions(options)).pipe(
    Effect.map(({ report }) => report),
    Logger.withMinimumLogLevel(LogLevel.None)
  )

const ROWS = 20
const MAX_COLUMNS = 72

/** % of hosts by hour, simulated (`*`) against expected (`o`; `#` where both fall). */
export const chart = (table: ReadonlyArray<FleetSimulation.HourRow>, simulated: "upgradedPct" | "triedPct"): string => {
  const hours = table.length - 1
  const columns = Math.min(table.length, MAX_COLUMNS)
  const rowAt = (pct: number) => Math.round((pct / 100) * ROWS)
  const picked = Array.from({ length: columns }, (_, c) => table[Math.round((c * hours) / Math.max(1, columns - 1))]!)
  const lines: Array<string> = []
  for (let row = ROWS; row >= 0; row--) {
    const label = row % 2 === 0 ? `${String((row * 100) / ROWS).padStart(3)}% |` : "     |"
    const cells = picked.map((entry) => {
      const actual = rowAt(entry[simulated]) === row
      const expected = rowAt(entry.expectedPct) === row
      return actual && expected ? "#" : actual ? "*" : expected ? "o" : " "
    })
    lines.push(`${label}${cells.join("").trimEnd()}`)
  }
  lines.push(`     +${"-".repeat(columns)}`)
  // Hour labels under every sixth column (or so), where they fit.
  const step = Math.max(1, Math.ceil(hours / 8))
  let axis = ""
  for (let hour = 0; hour <= hours; hour += step) {
    const column = Math.round((hour * Math.max(1, columns - 1)) / Math.max(1, hours))
    const text = String(hour)
    if (column + 6 < axis.length) continue
    axis = axis.padEnd(column + 6) + text
  }
  lines.push(`${axis}   hours`)
  return lines.join("\n")
}

const perMinute = (load: FleetSimulation.RequestLoad, what: string) =>
  `peak ${load.peakPerMinute}/min, mean ${load.meanPerMinute}/min (${load.total} ${what})`

/** The hours the terminal's dashboard shows (and the last one); `--json` has every hour. */
const DASHBOARD_HOURS = [1, 6, 12, 24]
const LABEL_WIDTH = 26

type DashboardRow = FleetSimulation.FleetReport["dashboard"]["hours"][number]

/**
 * The dashboard at a few hours: one line per fleet-wide query and per label value of a `by` one
 * (`-`: no series, as Prometheus returns none); a label value too long for its column is a note below.
 */
export const dashboardTable = (report: FleetSimulation.FleetReport): string => {
  const hours = [...new Set([...DASHBOARD_HOURS.filter((hour) => hour < report.hours), report.hours])]
  const rows = hours.map((hour) => report.dashboard.hours[hour]!)
  const cells = (value: (row: DashboardRow) => number | null | undefined) =>
    rows.map((row) => String(value(row) ?? "-").padStart(7)).join("")
  const lines = [
    "dashboard: the hosts' metrics files aggregated as Prometheus would (--json: every hour, and the PromQL)",
    `${"hour".padEnd(LABEL_WIDTH)}${hours.map((hour) => String(hour).padStart(7)).join("")}`
  ]
  const notes: Array<string> = []
  const single = (title: string, key: "reporting" | "agentsRunning" | "rollbacks") =>
    lines.push(`${title.padEnd(LABEL_WIDTH)}${cells((row) => row[key])}`)
  const grouped = (title: string, key: "installed" | "plannedUpgrades" | "heldBack" | "lastPassFailed") => {
    const labels = [...new Set(rows.flatMap((row) => Object.keys(row[key])))].sort()
    for (const label of labels) {
      let text = `${title} ${label}`
      if (text.length >= LABEL_WIDTH) {
        notes.push(`[${notes.length + 1}] ${label}`)
        text = `${title} [${notes.length}]`
      }
      lines.push(`${text.padEnd(LABEL_WIDTH)}${cells((row) => row[key][label])}`)
    }
  }
  single("hosts reporting", "reporting")
  grouped("installed", "installed")
  single("agents running", "agentsRunning")
  grouped("upgrade planned to", "plannedUpgrades")
  single("rollbacks done", "rollbacks")
  grouped("holding back", "heldBack")
  grouped("last pass failed:", "lastPassFailed")
  return [...lines, ...notes].join("\n")
}

export const render = (report: FleetSimulation.FleetReport): string => {
  const failure = report.failure
  const simulated = failure === undefined ? "upgradedPct" : "triedPct"
  // At most 11 columns of the table: 76 columns of text.
  const step = Math.max(1, Math.ceil(report.hours / 10))
  const rows = report.table.filter((row) => row.hour % step === 0 || row.hour === report.hours)
  const lines = [
    `fleet: ${report.hosts} hosts on ${report.installed}, ${report.published} published at hour 0` +
    `${failure === undefined ? "" : " (broken)"}; ${report.hours} h; seed ${report.seed}`,
    `each host: the daemon's staged step, checking every ${report.intervalMinutes} min from its own offset`,
    `replay: cloudbackup-updater simulate --hosts ${report.hosts} --hours ${report.hours} --seed ${report.seed}` +
    (failure === undefined ? "" : ` --fail-version ${failure.version}`),
    "",
    `% of hosts ${failure === undefined ? "upgraded" : "that tried the upgrade"} (*) against the expected curve (o); # both`,
    chart(report.table, simulated),
    "",
    `hour      ${rows.map((row) => String(row.hour).padStart(6)).join("")}`,
    `${failure === undefined ? "upgraded" : "tried   "}  ${rows.map((row) => row[simulated].toFixed(1).padStart(6)).join("")}`,
    `expected  ${rows.map((row) => row.expectedPct.toFixed(1).padStart(6)).join("")}`,
    `largest gap to the expected curve: ${report.maxDeviationPp} percentage points (hour ${report.maxDeviationHour})`,
    "",
    `repository load: version.txt ${perMinute(report.load.versionTxt, "requests")}`,
    `                 packages    ${perMinute(report.load.packages, "downloads")}`
  ]
  if (failure !== undefined) {
    lines.push(
      "",
      `broken release ${failure.version}: ${failure.tried} hosts tried it, ${failure.rolledBack} rolled back, ` +
        `${failure.stayedOnOld} stayed on ${report.installed}, ${failure.upgradedToFailed} left on it, ` +
        `${failure.retried} tries again after a rollback`,
      failure.withoutRunningAgent === 0
        ? `agent running on all ${failure.agentsRunning} hosts: none was left without one`
        : `AGENT NOT RUNNING on ${failure.withoutRunningAgent} hosts`
    )
  }
  lines.push("", dashboardTable(report))
  return lines.join("\n")
}

export const simulateFleet = (options: FleetSimulateOptions) =>
  Effect.flatMap(report(options), (done) => Console.log(options.json ? JSON.stringify(done) : render(done)))
