/**
 * The built executable's command line. Each case ends before any host work: the
 * updater runs with an empty PATH, so not even a regression could reach this
 * machine's package manager or init system.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { normalizeRepository } from "../../src/main/Cli.js"

const BUNDLE = path.resolve(__dirname, "../../dist/cloudbackup-updater.js")

const run = (...args: Array<string>) => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`)
  const result = spawnSync(process.execPath, [BUNDLE, ...args], {
    env: { PATH: "/nonexistent", HOME: os.tmpdir() },
    encoding: "utf8",
    timeout: 20_000
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("cloudbackup-updater command line", () => {
  it.each([
    [["-i", "abc"], "-i/--interval: \"abc\" is not a positive whole number of minutes"],
    [["-i", "0"], "-i/--interval: \"0\" is not a positive whole number of minutes"],
    [["-i", "-5"], "-i/--interval: \"-5\" is not a positive whole number of minutes"],
    [["-d", "-i", "1.5"], "-i/--interval: \"1.5\" is not a positive whole number of minutes"],
    [["-d", "--interval=abc"], "-i/--interval: \"abc\" is not a positive whole number of minutes"],
    [["--package-manager", "pacman"], "--package-manager: \"pacman\" is not one of apt, dnf, yum, zypper"],
    [["--service-manager", "upstart"], "--service-manager: \"upstart\" is not one of systemd, sysv"],
    [["-r", "ftp://mirror/agent"], "-r/--repository: \"ftp://mirror/agent\" is not an http:// or https:// URI"],
    [["-r", "not a uri"], "-r/--repository: \"not a uri\" is not an http:// or https:// URI"],
    [
      ["-r", "https://agentrepo.example.test\ndeb [trusted=yes] http://evil.example/ x main"],
      "-r/--repository: \"https://agentrepo.example.test\\ndeb [trusted=yes] http://evil.example/ x main\" holds blank space or a control character"
    ],
    [["-r", "https://agentrepo.example.test/a b"], "-r/--repository: \"https://agentrepo.example.test/a b\" holds blank space or a control character"],
    [["-r", "https://agentrepo.example.test/\tx"], "-r/--repository: \"https://agentrepo.example.test/\\tx\" holds blank space or a control character"],
    [["-r", "https://agentrepo.example.test/\u0007"], "-r/--repository: \"https://agentrepo.example.test/\\u0007\" holds blank space or a control character"],
    [["-r", "https://backup:s3cret@agentrepo.example.test"], "-r/--repository: the URI holds a user name or password, which would be written to world-readable files"],
    [["-r", "https://backup@agentrepo.example.test"], "-r/--repository: the URI holds a user name or password, which would be written to world-readable files"],
    [["-r", "https://agentrepo.example.test/?token=1"], "-r/--repository: \"https://agentrepo.example.test/?token=1\" has a query or a fragment"],
    [["-r", "https://agentrepo.example.test/?"], "-r/--repository: \"https://agentrepo.example.test/?\" has a query or a fragment"],
    [["-r", "https://agentrepo.example.test/#x"], "-r/--repository: \"https://agentrepo.example.test/#x\" has a query or a fragment"],
    [["--bogus"], "Received unknown argument: '--bogus'"],
    [["--max-wait", "soon"], "--max-wait: \"soon\" is not a whole number of minutes"],
    [["--health-grace", "-1"], "--health-grace: \"-1\" is not a whole number of seconds"],
    [["status", "--bogus"], "Received unknown argument: '--bogus'"],
    [["status", "--package-manager", "pacman"], "--package-manager: \"pacman\" is not one of apt, dnf, yum, zypper"],
    [["simulate", "-i", "5"], "Received unknown argument: '-i'"],
    [["-d", "-l", "/nonexistent-dir/updater.log"], "-l/--log-file: the directory /nonexistent-dir does not exist"],
    [["-d", "-p", "/nonexistent-dir/updater.pid"], "-p/--pidfile: the directory /nonexistent-dir does not exist"]
  ])("%j is a usage error: exit 2, one plain line", (args, message) => {
    const { code, stderr, stdout } = run(...args)
    expect(code).toBe(2)
    expect(stderr).toBe(`cloudbackup-updater: ${message}\n`)
    expect(stdout).toBe("")
  })

  it("--version prints the package version", () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"))
    expect(run("--version")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" })
  })

  it.each([["-h"], ["--help"]])("%s lists every option of the contract, without colour codes", (flag) => {
    const { code, stdout } = run(flag)
    expect(code).toBe(0)
    for (
      const option of [
        "-r, --repository URI",
        "-v, --verbose",
        "-d, --daemon",
        "-i, --interval NUM",
        "-l, --log-file PATH",
        "-p, --pidfile PATH",
        "-n, --dry-run",
        "--max-wait MINUTES",
        "--health-grace SECONDS"
      ]
    ) {
      expect(stdout).toContain(option)
    }
    expect(stdout).not.toContain("\x1b[")
  })
})

describe("-r normalisation", () => {
  it.each([
    ["https://agentrepo.example.test", "https://agentrepo.example.test"],
    ["https://agentrepo.example.test///", "https://agentrepo.example.test"],
    ["HTTPS://AgentRepo.Example.TEST:443/Mirror/", "https://agentrepo.example.test/Mirror"],
    ["http://127.0.0.1:8080/agent/", "http://127.0.0.1:8080/agent"]
  ])("%s → %s", (value, normalised) => {
    expect(normalizeRepository(value)).toEqual(Either.right(normalised))
  })

  it("never echoes a password", () => {
    expect(Either.getLeft(normalizeRepository("https://u:hunter2@agentrepo.example.test")).pipe((left) => JSON.stringify(left))).not.toContain("hunter2")
  })
})
