/**
 * `--metrics-dir` on the built executable's command line: a directory that cannot be used is a
 * usage error before anything else happens, in every mode that passes (one-shot, --staged, -d,
 * --dry-run). Each case ends before any host work: the updater runs with an empty PATH.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runBundle } from "../support/Bundle.js"


const run = (...args: Array<string>) => runBundle(args)

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-cli-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))
const aFile = path.join(scratch, "a-file")
fs.writeFileSync(aFile, "")

describe("--metrics-dir", () => {
  it.each([
    [["--metrics-dir", "/nonexistent-dir"], "--metrics-dir: the directory /nonexistent-dir does not exist"],
    [["--staged", "--metrics-dir", "/nonexistent-dir/node-exporter"], "--metrics-dir: the directory /nonexistent-dir/node-exporter does not exist"],
    [["-n", "--metrics-dir", "/nonexistent-dir"], "--metrics-dir: the directory /nonexistent-dir does not exist"],
    [["--metrics-dir", aFile], `--metrics-dir: ${aFile} is not a directory`],
    [["--metrics-dir", ""], "--metrics-dir: the directory name is empty"]
  ])("%j is a usage error: exit 2, one plain line", (args, message) => {
    expect(run(...args)).toEqual({ code: 2, stdout: "", stderr: `cloudbackup-updater: ${message}\n` })
  })

  it("with -d, before the pidfile or the log file is touched", () => {
    const dir = fs.mkdtempSync(path.join(scratch, "daemon-"))
    const pidfile = path.join(dir, "updater.pid")
    const log = path.join(dir, "updater.log")
    expect(run("-d", "-p", pidfile, "-l", log, "--metrics-dir", "/nonexistent-dir")).toEqual({
      code: 2,
      stdout: "",
      stderr: "cloudbackup-updater: --metrics-dir: the directory /nonexistent-dir does not exist\n"
    })
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("status does not take it: it writes no metrics", () => {
    expect(run("status", "--metrics-dir", scratch)).toMatchObject({ code: 2, stderr: expect.stringContaining("--metrics-dir") })
  })

  it("--help names it, its value and that it is off by default", () => {
    expect(run("--help").stdout).toMatch(/^ {6}--metrics-dir DIR +write Prometheus metrics there \(default: off\)$/m)
  })
})
