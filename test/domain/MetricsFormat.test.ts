/**
 * The metrics file checked by Prometheus's own parser and linter, `promtool check metrics` (from
 * Debian's prometheus package: packaging/setup-host.sh puts it on PATH), for fixed facts and for
 * facts fast-check makes up, label values full of quotes, backslashes, line breaks, control
 * characters and lone surrogates included; and every label value read back by a strict reader of
 * the format's escapes, to be the text it was made of. Without promtool the promtool checks are
 * skipped, except in CI (`CI` set), where they fail.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { boundedText, type MetricsFacts, render } from "../../src/domain/Metrics.js"
import { EVERY_METRIC, T, UP_TO_DATE } from "../support/MetricsFacts.js"

const promtool = (process.env["PATH"] ?? "").split(":").filter((dir) => dir.startsWith("/"))
  .map((dir) => path.join(dir, "promtool"))
  .find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

const needsPromtool = (context: { skip: (condition: boolean, note: string) => void }) => {
  if (promtool !== undefined) return
  if (process.env["CI"] !== undefined) throw new Error("promtool is not installed: packaging/setup-host.sh installs it")
  context.skip(true, "promtool is not installed: packaging/setup-host.sh installs it")
}

/** `promtool check metrics` on `text`: its exit status (0: parsed, no lint finding; 3: lint findings; 1: a parse error) and what it said. */
const checkMetrics = (text: string) =>
  new Promise<{ readonly code: number | null; readonly output: string }>((resolve, reject) => {
    const child = spawn(promtool!, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, output }))
    child.stdin.end(text)
  })

/** Runs `check` over `items`, `width` at a time. */
const inBatches = async <A, B>(items: ReadonlyArray<A>, width: number, check: (item: A) => Promise<B>) => {
  const results: Array<B> = []
  for (let i = 0; i < items.length; i += width) results.push(...(await Promise.all(items.slice(i, i + width).map(check))))
  return results
}

/** Texts with everything the format escapes or a careless writer would break on. */
const awkwardText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom("\\", "\"", "\n", "\r", "\t", " ", "{", "}", "=", ",", "#", "a", "é", "🚀", "\u0000", "\u007f", "\uD800", "\uDC00"),
    maxLength: 30
  }),
  fc.string({ unit: "grapheme", minLength: 190, maxLength: 260 })
)

const time = fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.double())

const facts: fc.Arbitrary<MetricsFacts> = fc.record({
  installed: fc.option(awkwardText, { nil: undefined }),
  published: fc.option(awkwardText, { nil: undefined }),
  agentRunning: fc.option(fc.boolean(), { nil: undefined }),
  checkedAt: time,
  lastSuccessAt: fc.option(time, { nil: undefined }),
  failure: fc.option(awkwardText, { nil: undefined }),
  plannedUpgrade: fc.option(fc.record({ version: awkwardText, at: time }), { nil: undefined }),
  rollbacks: fc.nat(),
  failedVersion: fc.option(awkwardText, { nil: undefined })
})

/** The samples of an exposition text, each label value read with the format's three escapes and nothing else. */
const readSamples = (text: string) =>
  text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => {
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]
    let i = name.length
    const labels: Record<string, string> = {}
    if (line[i] === "{") {
      i++
      while (line[i] !== "}") {
        const label = /^[a-zA-Z_][a-zA-Z0-9_]*="/.exec(line.slice(i))
        if (label === null) throw new Error(`no label at ${i}: ${line}`)
        i += label[0].length
        let value = ""
        for (; line[i] !== "\""; i++) {
          if (i >= line.length) throw new Error(`unterminated value: ${line}`)
          if (line[i] !== "\\") {
            value += line[i]
            continue
          }
          const escaped = line[++i]
          if (escaped === "\\" || escaped === "\"") value += escaped
          else if (escaped === "n") value += "\n"
          else throw new Error(`bad escape \\${escaped}: ${line}`)
        }
        labels[label[0].slice(0, -2)] = value
        i++
        if (line[i] === ",") i++
      }
      i++
    }
    if (line[i] !== " ") throw new Error(`no space before the value: ${line}`)
    const value = line.slice(i + 1)
    if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value)) throw new Error(`not a finite value: ${line}`)
    return { name, labels, value: Number(value) }
  })

describe("promtool check metrics", () => {
  const fixed: ReadonlyArray<readonly [string, MetricsFacts]> = [
    ["every metric", EVERY_METRIC],
    ["up to date", UP_TO_DATE],
    ["nothing known but the check", {
      installed: undefined,
      published: undefined,
      agentRunning: undefined,
      checkedAt: T,
      lastSuccessAt: undefined,
      failure: "http://repo.test/version.txt: HTTP status 404",
      plannedUpgrade: undefined,
      rollbacks: 0,
      failedVersion: undefined
    }],
    ["escapes everywhere", {
      ...EVERY_METRIC,
      installed: "a\\b\"c\nd",
      failure: "E: \"quoted\" \\ back\nslash",
      plannedUpgrade: { version: "\"}\n", at: T }
    }]
  ]

  it.for(fixed)("%s: parsed, and no lint finding", async ([, facts], context) => {
    needsPromtool(context)
    expect(await checkMetrics(render(facts))).toEqual({ code: 0, output: "" })
  })

  it("refuses what it should (the check is a real one): an unescaped quote, a family twice, a counter not named _total", async (context) => {
    needsPromtool(context)
    expect((await checkMetrics("# TYPE x gauge\nx{l=\"a\"b\"} 1\n")).code).toBe(1)
    expect((await checkMetrics(`${render(UP_TO_DATE)}${render(UP_TO_DATE)}`)).code).toBe(1)
    // Lint: a counter not named *_total.
    expect((await checkMetrics("# HELP x_count x\n# TYPE x_count counter\nx_count 1\n")).code).toBe(3)
  })

  it("150 made-up facts, label values with every awkward character: all parsed, no lint finding", async (context) => {
    needsPromtool(context)
    const samples = fc.sample(facts, { numRuns: 150, seed: 20261129 })
    const results = await inBatches(samples, 6, (f) => checkMetrics(render(f)))
    const failed = results.flatMap((result, i) => (result.code === 0 && result.output === "" ? [] : [{ ...result, text: render(samples[i]!) }]))
    expect(failed).toEqual([])
  }, 60_000)
})

describe("label values read back", () => {
  it("each is its fact made one bounded line: the escapes lose nothing (2,000 made-up facts)", () => {
    fc.assert(
      fc.property(facts, (f) => {
        const samples = readSamples(render(f))
        const label = (name: string, key: string) => samples.find((s) => s.name === `cloudbackup_updater_${name}`)?.labels[key]
        expect(label("agent_info", "installed")).toBe(boundedText(f.installed ?? ""))
        expect(label("agent_info", "published")).toBe(boundedText(f.published ?? ""))
        expect(label("last_error_info", "reason")).toBe(f.failure === undefined ? undefined : boundedText(f.failure))
        expect(label("failed_version_info", "version")).toBe(f.failedVersion === undefined ? undefined : boundedText(f.failedVersion))
        const planned = f.plannedUpgrade !== undefined && Number.isFinite(f.plannedUpgrade.at)
        expect(label("planned_upgrade_timestamp_seconds", "version")).toBe(planned ? boundedText(f.plannedUpgrade!.version) : undefined)
        for (const sample of samples) {
          expect(Number.isFinite(sample.value)).toBe(true)
          for (const value of Object.values(sample.labels)) {
            expect(value).not.toMatch(/[\n\r\u0000]/)
            expect(Array.from(value).length).toBeLessThanOrEqual(200)
          }
        }
        const checked = samples.find((s) => s.name === "cloudbackup_updater_last_check_timestamp_seconds")
        // Compared with ===: -0 is written 0.
        expect(Number.isFinite(f.checkedAt) ? checked!.value === f.checkedAt / 1000 : checked === undefined).toBe(true)
      }),
      { numRuns: 2000, seed: 20261129 }
    )
  })
})
