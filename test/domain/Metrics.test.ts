import { describe, expect, it } from "vitest"
import {
  boundedText,
  escapeHelp,
  escapeLabelValue,
  families,
  MAX_LABEL_TEXT,
  PREFIX,
  render
} from "../../src/domain/Metrics.js"
import { EVERY_METRIC, T, UP_TO_DATE } from "../support/MetricsFacts.js"

const metricLines = (text: string) => text.split("\n").filter((line) => line !== "" && !line.startsWith("#"))
const namesOf = (text: string) => metricLines(text).map((line) => /^[a-z_]+/.exec(line)![0])

describe("the metrics file's text", () => {
  it("every metric, with HELP and TYPE before its samples", () => {
    expect(render(EVERY_METRIC)).toBe(
      [
        "# HELP cloudbackup_updater_agent_info The agent's installed package version and the published version the last pass read (empty: not installed, or not known); always 1.",
        "# TYPE cloudbackup_updater_agent_info gauge",
        "cloudbackup_updater_agent_info{installed=\"1.1.0-1\",published=\"1.2.0\"} 1",
        "# HELP cloudbackup_updater_agent_running Whether the agent was running when the last pass ended (1) or not (0).",
        "# TYPE cloudbackup_updater_agent_running gauge",
        "cloudbackup_updater_agent_running 1",
        "# HELP cloudbackup_updater_last_check_timestamp_seconds When the last update pass ended, successful or not, in seconds since the epoch.",
        "# TYPE cloudbackup_updater_last_check_timestamp_seconds gauge",
        "cloudbackup_updater_last_check_timestamp_seconds 1796162401.5",
        "# HELP cloudbackup_updater_last_success_timestamp_seconds When the last successful update pass ended, in seconds since the epoch.",
        "# TYPE cloudbackup_updater_last_success_timestamp_seconds gauge",
        "cloudbackup_updater_last_success_timestamp_seconds 1796158800",
        "# HELP cloudbackup_updater_last_pass_success Whether the last update pass succeeded (1) or failed (0).",
        "# TYPE cloudbackup_updater_last_pass_success gauge",
        "cloudbackup_updater_last_pass_success 0",
        "# HELP cloudbackup_updater_last_error_info Why the last update pass failed, as its error line (present only while the last pass failed); always 1.",
        "# TYPE cloudbackup_updater_last_error_info gauge",
        "cloudbackup_updater_last_error_info{reason=\"the upgrade to 1.2.0-1 failed (1.2.0-1 did not stay running for 10s); rolled back to 1.1.0-1, which is running again\"} 1",
        "# HELP cloudbackup_updater_planned_upgrade_timestamp_seconds When the staged rollout's planned upgrade to the labelled version is due, in seconds since the epoch (absent: none planned).",
        "# TYPE cloudbackup_updater_planned_upgrade_timestamp_seconds gauge",
        "cloudbackup_updater_planned_upgrade_timestamp_seconds{version=\"1.2.0\"} 1796169600",
        "# HELP cloudbackup_updater_rollbacks_total Rollbacks of a failed agent upgrade done on this host.",
        "# TYPE cloudbackup_updater_rollbacks_total counter",
        "cloudbackup_updater_rollbacks_total 3",
        "# HELP cloudbackup_updater_failed_version_info The version whose upgrade failed and was rolled back, held back until a newer one is published; always 1.",
        "# TYPE cloudbackup_updater_failed_version_info gauge",
        "cloudbackup_updater_failed_version_info{version=\"1.2.0\"} 1",
        ""
      ].join("\n")
    )
  })

  it.each([["every metric", EVERY_METRIC], ["up to date", UP_TO_DATE]] as const)(
    "%s: HELP and TYPE once per family, right before its samples; prefixed names; ends in one line feed",
    (_, facts) => {
      const text = render(facts)
      expect(text.endsWith("\n")).toBe(true)
      expect(text.endsWith("\n\n")).toBe(false)
      const lines = text.slice(0, -1).split("\n")
      const names = families(facts).map(({ name }) => name)
      expect(new Set(names).size).toBe(names.length)
      for (const name of names) {
        expect(name.startsWith(PREFIX)).toBe(true)
        expect(lines.filter((line) => line.startsWith(`# HELP ${name} `))).toHaveLength(1)
        expect(lines.filter((line) => line.startsWith(`# TYPE ${name} `))).toHaveLength(1)
        const help = lines.findIndex((line) => line.startsWith(`# HELP ${name} `))
        expect(lines[help + 1]).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`))
        expect(lines[help + 2]).toMatch(new RegExp(`^${name}[{ ]`))
      }
      // Every sample belongs to the family declared last.
      let declared = ""
      for (const line of lines) {
        if (line.startsWith("# TYPE ")) declared = line.split(" ")[2]!
        else if (!line.startsWith("#")) expect(line.startsWith(`${declared}{`) || line.startsWith(`${declared} `), line).toBe(true)
      }
      expect(text).not.toMatch(/NaN|Inf/)
    }
  )

  it("a successful pass: success 1, no error line, the last success is the check", () => {
    const text = render(UP_TO_DATE)
    expect(metricLines(text)).toEqual([
      "cloudbackup_updater_agent_info{installed=\"1.2.0-1\",published=\"1.2.0\"} 1",
      "cloudbackup_updater_agent_running 1",
      "cloudbackup_updater_last_check_timestamp_seconds 1796162400",
      "cloudbackup_updater_last_success_timestamp_seconds 1796162400",
      "cloudbackup_updater_last_pass_success 1",
      "cloudbackup_updater_rollbacks_total 0"
    ])
    expect(text).not.toContain("last_error_info")
  })

  it("no plan: no planned-upgrade family at all, not even its HELP (never a NaN sample)", () => {
    const text = render({ ...EVERY_METRIC, plannedUpgrade: undefined })
    expect(text).not.toContain("planned_upgrade")
    expect(render(EVERY_METRIC)).toContain("# TYPE cloudbackup_updater_planned_upgrade_timestamp_seconds gauge\n")
  })

  it("what is not known is left out: whether the agent runs, a success never had, a failed version no longer held", () => {
    const names = namesOf(render({ ...EVERY_METRIC, agentRunning: undefined, lastSuccessAt: undefined, failedVersion: undefined }))
    expect(names).toEqual([
      "cloudbackup_updater_agent_info",
      "cloudbackup_updater_last_check_timestamp_seconds",
      "cloudbackup_updater_last_pass_success",
      "cloudbackup_updater_last_error_info",
      "cloudbackup_updater_planned_upgrade_timestamp_seconds",
      "cloudbackup_updater_rollbacks_total"
    ])
  })

  it("a stopped agent is 0; an agent not installed and a published version not read are empty labels", () => {
    const text = render({ ...UP_TO_DATE, agentRunning: false, installed: undefined, published: undefined })
    expect(metricLines(text).slice(0, 2)).toEqual([
      "cloudbackup_updater_agent_info{installed=\"\",published=\"\"} 1",
      "cloudbackup_updater_agent_running 0"
    ])
  })

  it("times a damaged state file may hold that are not finite: the sample is left out, never NaN or Inf", () => {
    const text = render({
      ...EVERY_METRIC,
      lastSuccessAt: Number.POSITIVE_INFINITY,
      plannedUpgrade: { version: "1.2.0", at: Number.NaN }
    })
    expect(text).not.toMatch(/NaN|Inf/)
    expect(text).not.toContain("last_success_timestamp_seconds")
    expect(text).not.toContain("planned_upgrade_timestamp_seconds")
  })
})

describe("label values", () => {
  it.each([
    ["plain", "1.2.0-1", "1.2.0-1"],
    ["backslash", "a\\b", "a\\\\b"],
    ["double quote", "say \"hi\"", "say \\\"hi\\\""],
    ["line feed", "one\ntwo", "one\\ntwo"],
    ["all three", "\\\"\n", "\\\\\\\"\\n"],
    ["unicode stays", "Größe ✓ 🚀", "Größe ✓ 🚀"],
    ["a lone surrogate becomes U+FFFD", "a\uD800b", "a\uFFFDb"]
  ])("escaped as the format asks: %s", (_, value, escaped) => {
    expect(escapeLabelValue(value)).toBe(escaped)
  })

  it("HELP texts escape backslash and line feed", () => {
    expect(escapeHelp("a\\b\nc\"d")).toBe("a\\\\b\\nc\"d")
  })

  it("a reason with quotes, backslashes and line breaks is one escaped line", () => {
    const text = render({ ...EVERY_METRIC, failure: "apt said:\n  E: \"C:\\dpkg\" failed\r\n\tcode 1" })
    expect(metricLines(text)).toContain("cloudbackup_updater_last_error_info{reason=\"apt said: E: \\\"C:\\\\dpkg\\\" failed code 1\"} 1")
  })

  it("a version label is escaped too (a damaged state file's plan)", () => {
    const text = render({ ...EVERY_METRIC, plannedUpgrade: { version: "1.2\"}\n x 1", at: T } })
    expect(metricLines(text)).toContain("cloudbackup_updater_planned_upgrade_timestamp_seconds{version=\"1.2\\\"} x 1\"} 1796162400")
  })

  it("a long reason is cut, ending in an ellipsis, at most MAX_LABEL_TEXT characters", () => {
    const long = `${"x".repeat(150)} ${"é".repeat(150)} 🚀🚀🚀`
    const bounded = boundedText(long)
    expect(Array.from(bounded)).toHaveLength(MAX_LABEL_TEXT)
    expect(bounded.endsWith("…")).toBe(true)
    expect(bounded.startsWith("x".repeat(150))).toBe(true)
    // Never half a surrogate pair.
    expect(boundedText("🚀".repeat(300))).toBe(`${"🚀".repeat(MAX_LABEL_TEXT - 1)}…`)
    expect(boundedText("short")).toBe("short")
  })

  it("control characters and blank runs fold to one space; ends trimmed", () => {
    expect(boundedText("  a\u0000\u0007b \t\n c\u007f\u0085d  ")).toBe("a b c d")
  })
})
