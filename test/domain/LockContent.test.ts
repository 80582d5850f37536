import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { PID_MAX, pidInLock } from "../../src/domain/LockContent.js"

const pid = FastCheck.integer({ min: 1, max: PID_MAX })
const word = FastCheck.stringMatching(/^[a-z][a-z_-]{0,11}$/)
const blank = FastCheck.stringMatching(/^[ \t\r\n]{0,3}$/)

/** The forms an agent may write its pid in. */
const forms: ReadonlyArray<readonly [string, (pid: number, word: string) => string]> = [
  ["a bare pid", (p) => `${p}`],
  ["pid=N", (p) => `pid=${p}`],
  ["PID: N", (p) => `PID: ${p}`],
  ["a word and a pid", (p, w) => `${w} ${p}`],
  ["JSON", (p) => JSON.stringify({ pid: p })],
  ["JSON with other numbers first", (p) => JSON.stringify({ started: 1_700_000_000, version: 3, pid: p })],
  ["JSON with the pid as a string", (p, w) => JSON.stringify({ host: w, pid: String(p) })],
  ["key=value pairs", (p, w) => `host=${w} count=7 pid=${p}`]
]

describe("pidInLock", () => {
  it.each([
    ["1234", 1234],
    ["1234\n", 1234],
    ["pid=1234", 1234],
    ["pid: 1234\n", 1234],
    ["agent 1234", 1234],
    ["driveclient backup 1234\n", 1234],
    ["{\"pid\":1234}", 1234],
    ["{\"pid\": \"1234\", \"started\": \"2024-05-01T10:00:00Z\"}", 1234],
    ["{\"lock\": {\"owner\": \"agent\", \"PID\": 1234}}", 1234],
    ["{\"pid\":1234", 1234],
    ["started 2024-05-01 10:00:00 by 1234", 1234]
  ])("%j names pid %d", (content, expected) => {
    expect(pidInLock(content)).toEqual(Option.some(expected))
  })

  it.each([
    "",
    "\n",
    "   ",
    "locked",
    "backup running",
    "{}",
    "{\"state\": \"running\"}",
    "pid=0",
    "pid=",
    "{\"pid\": null, \"worker\": 1234}",
    // In JSON only a pid key names a pid: a count or a size that is read as one could be a dead pid.
    "{\"worker\": 1234}",
    "{\"files\": 12}",
    "{\"started\": 1714557600000, \"worker\": 1234}",
    "[1234]",
    "{\"pid\": -5}",
    "-1234",
    "12.5",
    "1714557600000",
    "99999999",
    "10:00:00",
    "v2 agent-3"
  ])("%j names no pid", (content) => {
    expect(pidInLock(content)).toEqual(Option.none())
  })

  describe.each(forms)("%s", (_name, form) => {
    it.prop("names the pid, whatever whitespace surrounds it", [pid, word, blank, blank], ([p, w, before, after]) => {
      expect(pidInLock(`${before}${form(p, w)}${after}`)).toEqual(Option.some(p))
    })
  })

  it.prop("text without digits names no pid", [FastCheck.string().filter((s) => !/\d/.test(s))], ([content]) => {
    expect(pidInLock(content)).toEqual(Option.none())
  })

  it.prop("a pid key wins over any number before it", [pid, FastCheck.array(FastCheck.integer(), { maxLength: 4 })], ([p, others]) => {
    const content = JSON.stringify({ ...Object.fromEntries(others.map((n, i) => [`n${i}`, n])), pid: p })
    expect(pidInLock(content)).toEqual(Option.some(p))
  })

  it.prop("whatever the content, the answer is none or a pid Linux can hand out", [FastCheck.string()], ([content]) => {
    const found = pidInLock(content)
    expect(Option.isNone(found) || (Number.isInteger(found.value) && found.value >= 1 && found.value <= PID_MAX)).toBe(true)
  })
})
