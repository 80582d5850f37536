/**
 * The built executable reading an options file that CLOUDBACKUP_UPDATER_OPTIONS_FILE names (never
 * this machine's /etc). Only `status`, which changes nothing, runs to its end; every other case
 * ends with a usage error before any host work, with an empty PATH besides.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const BUNDLE = path.resolve(__dirname, "../../dist/cloudbackup-updater.js")

let dir = ""
/** A repository on 127.0.0.1 publishing 9.8.7 under each path: status names the path it asked. */
let repository = ""
const server = http.createServer((request, response) => {
  const found = request.url?.endsWith("/version.txt") === true
  response.writeHead(found ? 200 : 404, { "content-type": "text/plain" })
  response.end(found ? "9.8.7\n" : "")
})
const asked: Array<string> = []
server.on("request", (request: http.IncomingMessage) => asked.push(request.url ?? ""))

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "options-file-"))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  repository = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  fs.rmSync(dir, { recursive: true, force: true })
})

let files = 0
const optionsFile = (text: string) => {
  const file = path.join(dir, `options-${files++}`)
  fs.writeFileSync(file, text)
  return file
}

/** The executable's exit status and output; run asynchronously, for the repository above to answer it. */
const run = (file: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`)
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [BUNDLE, ...args], {
      env: { PATH: "/nonexistent", HOME: os.tmpdir(), CLOUDBACKUP_UPDATER_OPTIONS_FILE: file, ...env },
      encoding: "utf8",
      timeout: 20_000
    }, (_, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }))
  })
}

const published = (stdout: string): unknown => JSON.parse(stdout).published

describe("the options file, read by the executable", () => {
  it("status --json takes -r from the file; the file's pass options do not trouble it", async () => {
    const file = optionsFile(`# options\nCLOUDBACKUP_UPDATER_OPTS="-r ${repository}/agent -i 30 -v -d"\n`)
    const { code, stdout } = await run(file, ["status", "--json"])
    expect(code).toBe(0)
    expect(published(stdout)).toEqual({ value: "9.8.7" })
    expect(stdout).toContain(`${repository}/agent`)
    expect(asked).toContain("/agent/version.txt")
  })

  it("the command line's -r overrides the file's", async () => {
    const file = optionsFile(`CLOUDBACKUP_UPDATER_OPTS="-r ${repository}/agent"\n`)
    const { code, stdout } = await run(file, ["status", "--json", "--repository", `${repository}/mine`])
    expect(code).toBe(0)
    expect(published(stdout)).toEqual({ value: "9.8.7" })
    expect(stdout).toContain(`${repository}/mine`)
    expect(stdout).not.toContain(`${repository}/agent`)
  })

  it("CLOUDBACKUP_UPDATER_OPTS in the environment wins over the file", async () => {
    const file = optionsFile("this is not an options file\n")
    const { code, stdout } = await run(file, ["status", "--json"], { CLOUDBACKUP_UPDATER_OPTS: `-r '${repository}/service'` })
    expect(code).toBe(0)
    expect(stdout).toContain(`${repository}/service`)
  })

  it("status --log-level debug names the file's options it leaves out", async () => {
    const file = optionsFile(`CLOUDBACKUP_UPDATER_OPTS="-r ${repository} -i 30"\n`)
    const { code, stderr } = await run(file, ["status", "--log-level", "debug", "--json"])
    expect(code).toBe(0)
    expect(stderr).toContain(`debug: ${file}:1: -i 30 in CLOUDBACKUP_UPDATER_OPTS ignored: not an option of status\n`)
  })

  it("a missing file is no options", async () => {
    const { code, stdout } = await run(path.join(dir, "none"), ["status", "--json", "-r", `${repository}/flag`])
    expect(code).toBe(0)
    expect(stdout).toContain(`${repository}/flag`)
  })

  const MALFORMED = "# options\nexport CLOUDBACKUP_UPDATER_OPTS=\"-v\"\n"
  const malformedLine = (file: string) =>
    `cloudbackup-updater: ${file}:2: "export" is not understood by systemd: write CLOUDBACKUP_UPDATER_OPTS=… without it\n`

  it.each([[["status"]], [["status", "--json"]], [["-n"]], [["-n", "-v", "-i", "5"]]])(
    "a malformed file: %j exits 2 with the file:line",
    async (args) => {
      const file = optionsFile(MALFORMED)
      expect(await run(file, args)).toEqual({ code: 2, stdout: "", stderr: malformedLine(file) })
    }
  )

  it("an unreadable file: exit 2, naming it", async () => {
    expect(await run(dir, ["status"])).toEqual({ code: 2, stdout: "", stderr: `cloudbackup-updater: ${dir}: cannot be read (EISDIR)\n` })
  })

  it("an option no command knows: a pass exits 2 naming the file's line", async () => {
    const file = optionsFile("CLOUDBACKUP_UPDATER_OPTS=\"-v --bogus\"\n")
    expect(await run(file, ["-n"])).toEqual({
      code: 2,
      stdout: "",
      stderr: `cloudbackup-updater: ${file}:1: "--bogus" in CLOUDBACKUP_UPDATER_OPTS is not an option of cloudbackup-updater\n`
    })
  })

  it("a bad value in the file is the parser's usage error; the command line's value replaces it", async () => {
    const file = optionsFile("CLOUDBACKUP_UPDATER_OPTS=\"-i abc\"\n")
    expect(await run(file, ["-n"]))
      .toMatchObject({ code: 2, stderr: "cloudbackup-updater: -i/--interval: \"abc\" is not a positive whole number of minutes\n" })
    expect(await run(file, ["-n", "-i", "0"]))
      .toMatchObject({ code: 2, stderr: "cloudbackup-updater: -i/--interval: \"0\" is not a positive whole number of minutes\n" })
  })

  it.each([[["--help"]], [["-h"]], [["status", "--help"]]])("a malformed file does not break %j", async (args) => {
    const { code, stdout, stderr } = await run(optionsFile(MALFORMED), args)
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    expect(stdout).toMatch(/^Usage: cloudbackup-updater/)
  })

  it("a malformed file does not get in the way of --wizard's own refusal", async () => {
    expect(await run(optionsFile(MALFORMED), ["--log-level", "debug", "--wizard"]))
      .toEqual({ code: 2, stdout: "", stderr: "cloudbackup-updater: --wizard: stdin is not a terminal\n" })
  })

  it("a malformed file does not break --version", async () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"))
    expect(await run(optionsFile(MALFORMED), ["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" })
  })
})
