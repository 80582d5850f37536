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

/** The fleet's agents before the publication, and the version published at hour 0 unless `--fail-version` names it. */
export const FLEET_INSTALLED = "1.1.0-1"
export const FLEET_PUBLISHED = "1.2.0"

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
  return lines.join("\n")
}

export const simulateFleet = (options: FleetSimulateOptions) =>
  Effect.flatMap(report(options), (done) => Console.log(options.json ? JSON.stringify(done) : render(done)))
