/**
 * The metrics file that node_exporter's textfile collector reads: what the updater knows after a
 * pass, in the Prometheus text exposition format (0.0.4). Pure: facts in, text out. The families,
 * their types and their samples are data too (`families`), so that a fleet view can aggregate
 * them without parsing text.
 *
 * Samples carry no timestamps (the textfile collector refuses them): times are gauges in seconds
 * since the epoch. A sample whose fact is not known is left out rather than given a made-up
 * value, and a family left without samples is left out whole (no HELP or TYPE line for it):
 * every value written is finite, never NaN.
 */

/** The file's name in the metrics directory. */
export const METRICS_FILE = "cloudbackup-updater.prom"

/** Every metric's name starts with it. */
export const PREFIX = "cloudbackup_updater_"

/** Where a label value, or a failure reason, is cut (in characters). */
export const MAX_LABEL_TEXT = 200

/**
 * What the updater knows after a pass; each `undefined` means "not known", and its sample is left
 * out. Texts are taken as they are: every label value is made one bounded line when it is rendered.
 */
export interface MetricsFacts {
  /** The agent's installed package version (`1.2.0-1`); undefined when it is not installed or could not be read. */
  readonly installed: string | undefined
  /** The version `version.txt` named in the pass; undefined when the pass did not read it. */
  readonly published: string | undefined
  /** Whether the agent runs; undefined when that could not be read. */
  readonly agentRunning: boolean | undefined
  /** When the pass ended, in epoch milliseconds. */
  readonly checkedAt: number
  /** When the last pass that succeeded ended (the pass in hand, if it did), in epoch milliseconds; undefined: none yet. */
  readonly lastSuccessAt: number | undefined
  /** Why the pass failed, in its one-line error message; undefined when it succeeded. */
  readonly failure: string | undefined
  /** The upgrade the staged rollout has planned: the version and when it is due, in epoch milliseconds. */
  readonly plannedUpgrade: { readonly version: string; readonly at: number } | undefined
  /** Rollbacks done on this host since the state file was begun. */
  readonly rollbacks: number
  /** The upstream version held back because its upgrade failed and was rolled back, until a newer one is published. */
  readonly failedVersion: string | undefined
}

export type MetricType = "gauge" | "counter"

export interface Sample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface MetricFamily {
  /** The full name, with the prefix. */
  readonly name: string
  readonly type: MetricType
  readonly help: string
  readonly samples: ReadonlyArray<Sample>
}

const seconds = (millis: number) => millis / 1000

const bit = (value: boolean) => (value ? 1 : 0)

/** Lone surrogates (which UTF-8 cannot hold) become U+FFFD, as the file's UTF-8 encoding would make them anyway. */
const wellFormed = (text: string) =>
  text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")

/**
 * A free text (a failure reason) as one bounded label value: control characters and runs of
 * blank space become one space, and past `MAX_LABEL_TEXT` characters it is cut and ends in `…`.
 */
export const boundedText = (text: string): string => {
  const folded = wellFormed(text).replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, " ").trim()
  const chars = Array.from(folded)
  return chars.length <= MAX_LABEL_TEXT ? folded : `${chars.slice(0, MAX_LABEL_TEXT - 1).join("").trimEnd()}…`
}

/** Escapes a label value as the format asks: backslash, double quote and line feed. */
export const escapeLabelValue = (value: string): string =>
  wellFormed(value).replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))

/** Escapes a HELP text as the format asks: backslash and line feed. */
export const escapeHelp = (text: string): string => text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"))

/** A finite value as Go's ParseFloat reads it; `String` gives `1e+21` and `1.5`, both of which it accepts. */
const formatValue = (value: number): string => (Object.is(value, -0) ? "0" : String(value))

const family = (name: string, type: MetricType, help: string, samples: ReadonlyArray<Sample>): MetricFamily => ({
  name: `${PREFIX}${name}`,
  type,
  help,
  samples
})

const one = (value: number | undefined, labels: Record<string, string> = {}): ReadonlyArray<Sample> =>
  value === undefined ? [] : [{ labels, value }]

/** The metric families of `facts`, in the order the file lists them; families without a sample are left out. */
export const families = (facts: MetricsFacts): ReadonlyArray<MetricFamily> =>
  [
    family(
      "agent_info",
      "gauge",
      "The agent's installed package version and the published version the last pass read (empty: not installed, or not known); always 1.",
      one(1, { installed: boundedText(facts.installed ?? ""), published: boundedText(facts.published ?? "") })
    ),
    family(
      "agent_running",
      "gauge",
      "Whether the agent was running when the last pass ended (1) or not (0).",
      one(facts.agentRunning === undefined ? undefined : bit(facts.agentRunning))
    ),
    family(
      "last_check_timestamp_seconds",
      "gauge",
      "When the last update pass ended, successful or not, in seconds since the epoch.",
      one(seconds(facts.checkedAt))
    ),
    family(
      "last_success_timestamp_seconds",
      "gauge",
      "When the last successful update pass ended, in seconds since the epoch.",
      one(facts.lastSuccessAt === undefined ? undefined : seconds(facts.lastSuccessAt))
    ),
    family(
      "last_pass_success",
      "gauge",
      "Whether the last update pass succeeded (1) or failed (0).",
      one(bit(facts.failure === undefined))
    ),
    family(
      "last_error_info",
      "gauge",
      "Why the last update pass failed, as its error line (present only while the last pass failed); always 1.",
      facts.failure === undefined ? [] : one(1, { reason: boundedText(facts.failure) })
    ),
    family(
      "planned_upgrade_timestamp_seconds",
      "gauge",
      "When the staged rollout's planned upgrade to the labelled version is due, in seconds since the epoch (absent: none planned).",
      facts.plannedUpgrade === undefined ? [] : one(seconds(facts.plannedUpgrade.at), { version: boundedText(facts.plannedUpgrade.version) })
    ),
    family(
      "rollbacks_total",
      "counter",
      "Rollbacks of a failed agent upgrade done on this host.",
      one(facts.rollbacks)
    ),
    family(
      "failed_version_info",
      "gauge",
      "The version whose upgrade failed and was rolled back, held back until a newer one is published; always 1.",
      facts.failedVersion === undefined ? [] : one(1, { version: boundedText(facts.failedVersion) })
    )
  ].map((f) => ({ ...f, samples: f.samples.filter(({ value }) => Number.isFinite(value)) }))
    .filter((f) => f.samples.length > 0)

const sampleLine = (name: string, { labels, value }: Sample): string => {
  const pairs = Object.entries(labels).map(([label, text]) => `${label}="${escapeLabelValue(text)}"`)
  return `${name}${pairs.length === 0 ? "" : `{${pairs.join(",")}}`} ${formatValue(value)}`
}

/** Metric families as exposition text: each with its HELP and TYPE lines once, then its samples; a line feed after every line. */
export const renderFamilies = (list: ReadonlyArray<MetricFamily>): string =>
  list.flatMap((f) => [
    `# HELP ${f.name} ${escapeHelp(f.help)}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.samples.filter(({ value }) => Number.isFinite(value)).map((sample) => sampleLine(f.name, sample))
  ]).map((line) => `${line}\n`).join("")

/** The metrics file's text for `facts`. */
export const render = (facts: MetricsFacts): string => renderFamilies(families(facts))
