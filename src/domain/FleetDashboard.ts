/**
 * What a Prometheus dashboard over a fleet's metrics files shows: each host's latest metric
 * families (`Metrics.families`, as its last pass wrote them), aggregated as the PromQL in `QUERIES`
 * would aggregate the scraped series — a count or a sum, over the whole fleet or by one label.
 *
 * It keeps no host's families: each write is reduced to the host's share of every query, and the
 * fleet's totals are updated by the difference with the host's previous share. Hosts whose shares
 * are equal hold the same one (a fleet has few distinct ones), so a host costs a reference.
 */
import { type MetricFamily, PREFIX } from "./Metrics.js"

interface QuerySpec {
  readonly op: "count" | "sum"
  /** The metric's name without the prefix. */
  readonly metric: string
  /** The label of `count by (…)`; none: one value over the fleet. */
  readonly by?: string
}

/** The panels, by key; each a PromQL aggregation over every host's file. */
export const QUERIES = {
  /** Hosts with a metrics file (that have run a pass). */
  reporting: { op: "count", metric: "agent_info" },
  installed: { op: "count", metric: "agent_info", by: "installed" },
  agentsRunning: { op: "sum", metric: "agent_running" },
  plannedUpgrades: { op: "count", metric: "planned_upgrade_timestamp_seconds", by: "version" },
  rollbacks: { op: "sum", metric: "rollbacks_total" },
  heldBack: { op: "count", metric: "failed_version_info", by: "version" },
  lastPassFailed: { op: "count", metric: "last_error_info", by: "reason" }
} as const satisfies Record<string, QuerySpec>

export type QueryKey = keyof typeof QUERIES

export const promql = (spec: QuerySpec): string =>
  spec.by === undefined ? `${spec.op}(${PREFIX}${spec.metric})` : `${spec.op} by (${spec.by}) (${PREFIX}${spec.metric})`

/**
 * One query's result: a number for a fleet-wide one, by label value for a `by` one. Null (or a
 * label value missing) where Prometheus returns no series: no host's file has the metric.
 */
export type DashboardRow =
  & { readonly hour: number }
  & { readonly [K in QueryKey]: (typeof QUERIES)[K] extends { readonly by: string } ? Readonly<Record<string, number>> : number | null }

export interface Dashboard {
  /** Each key's PromQL. */
  readonly queries: Readonly<Record<QueryKey, string>>
  /** The panels at the end of each hour from the publication on (hour 0: at the publication). */
  readonly hours: ReadonlyArray<DashboardRow>
}

export const queries: Readonly<Record<QueryKey, string>> = Object.fromEntries(
  Object.entries(QUERIES).map(([key, spec]) => [key, promql(spec)])
) as Record<QueryKey, string>

const KEYS = Object.keys(QUERIES) as ReadonlyArray<QueryKey>
const SPECS: ReadonlyArray<QuerySpec> = KEYS.map((key) => QUERIES[key])

/** A host's share of the queries: flat triples (query index, group's label value, value), and their signature. */
interface Share {
  readonly signature: string
  readonly parts: ReadonlyArray<number | string>
}

const NONE: Share = { signature: "", parts: [] }

interface Group {
  /** Series (hosts' samples) in the group: it is gone at 0. */
  series: number
  value: number
}

export class FleetDashboard {
  private readonly shares: Array<Share>
  private readonly totals: ReadonlyArray<Map<string, Group>> = SPECS.map(() => new Map())
  private readonly interned = new Map<string, Share>([["", NONE]])
  /** Query indexes by full metric name. */
  private readonly byMetric = new Map<string, ReadonlyArray<number>>()

  constructor(hosts: number) {
    this.shares = new Array<Share>(hosts).fill(NONE)
    SPECS.forEach((spec, index) => {
      const name = `${PREFIX}${spec.metric}`
      this.byMetric.set(name, [...(this.byMetric.get(name) ?? []), index])
    })
  }

  /** Host `host`'s file is now `families` (it replaces the one it wrote before). */
  write(host: number, families: ReadonlyArray<MetricFamily>): void {
    const parts: Array<number | string> = []
    for (const family of families) {
      const indexes = this.byMetric.get(family.name)
      if (indexes === undefined) continue
      for (const index of indexes) {
        const { by, op } = SPECS[index]!
        // A count's value does not depend on the sample's (a planned upgrade's time): hosts share it.
        for (const sample of family.samples) {
          parts.push(index, by === undefined ? "" : sample.labels[by] ?? "", op === "count" ? 1 : sample.value)
        }
      }
    }
    const signature = parts.join("\u0000")
    let share = this.interned.get(signature)
    if (share === undefined) {
      share = { signature, parts }
      this.interned.set(signature, share)
    }
    const previous = this.shares[host]!
    if (previous === share) return
    this.apply(previous, -1)
    this.apply(share, 1)
    this.shares[host] = share
  }

  private apply(share: Share, sign: 1 | -1) {
    const { parts } = share
    for (let i = 0; i < parts.length; i += 3) {
      const index = parts[i] as number
      const label = parts[i + 1] as string
      const groups = this.totals[index]!
      let group = groups.get(label)
      if (group === undefined) {
        group = { series: 0, value: 0 }
        groups.set(label, group)
      }
      group.series += sign
      group.value += sign * (parts[i + 2] as number)
      if (group.series === 0) groups.delete(label)
    }
  }

  /** The panels as they stand, labelled `hour`. */
  snapshot(hour: number): DashboardRow {
    const row: Record<string, unknown> = { hour }
    KEYS.forEach((key, index) => {
      const groups = this.totals[index]!
      if (SPECS[index]!.by === undefined) {
        row[key] = groups.get("")?.value ?? null
      } else {
        const sorted = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        row[key] = Object.fromEntries(sorted.map(([label, group]) => [label, group.value]))
      }
    })
    return row as DashboardRow
  }
}
