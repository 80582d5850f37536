/**
 * The built executable's command line. Each case ends before any host work: the
 * updater runs with an empty PATH, so not even a regression could reach this
 * machine's package manager or init system.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import type * as Usage from "@effect/cli/Usage"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { DEFAULT_LOG_FILE, DEFAULT_PIDFILE, make, normalizeRepository, stopsOnSignal } from "../../src/main/Cli.js"
import { DEFAULT_REPOSITORY } from "../../src/services/UpdaterConfig.js"
import { BUNDLE, NO_OPTIONS_FILE, runBundle } from "../support/Bundle.js"


const run = (...args: Array<string>) => runBundle(args)

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

/**
 * With stderr on a stream systemd names in JOURNAL_STREAM (here a file standing in for the journal's
 * socket: the check is its device:inode), error lines carry the journal's priority `<3>`.
 */
const runToJournal = (journalStream: (stderr: fs.Stats) => string, ...args: Array<string>) => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-journal-"))
  const file = path.join(dir, "stderr")
  const fd = fs.openSync(file, "w")
  try {
    const result = spawnSync(process.execPath, [BUNDLE, ...args], {
      env: {
        PATH: "/nonexistent",
        HOME: os.tmpdir(),
        CLOUDBACKUP_UPDATER_OPTIONS_FILE: NO_OPTIONS_FILE,
        JOURNAL_STREAM: journalStream(fs.fstatSync(fd))
      },
      stdio: ["ignore", "pipe", fd],
      encoding: "utf8",
      timeout: 20_000
    })
    return { code: result.status, stderr: fs.readFileSync(file, "utf8") }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("stderr connected to the journal", () => {
  const own = (stats: fs.Stats) => `${stats.dev}:${stats.ino}`

  it.each([
    [["-i", "abc"], "-i/--interval: \"abc\" is not a positive whole number of minutes"],
    [["-d", "-l", "/nonexistent-dir/updater.log"], "-l/--log-file: the directory /nonexistent-dir does not exist"]
  ])("%j: the usage error at priority err", (args, message) => {
    expect(runToJournal(own, ...args)).toEqual({ code: 2, stderr: `<3>cloudbackup-updater: ${message}\n` })
  })

  it("another stream's device:inode (this test's own stderr): no prefix", () => {
    const tests = fs.fstatSync(2)
    expect(runToJournal(() => `${tests.dev}:${tests.ino}`, "-i", "abc").stderr)
      .toBe("cloudbackup-updater: -i/--interval: \"abc\" is not a positive whole number of minutes\n")
  })
})

/** Every option the parser of each command accepts, read from @effect/cli's own usage of the commands. */
const accepted = (() => {
  const commands = make({ update: () => Effect.void, status: () => Effect.void, simulate: () => Effect.void })
  const named = (usage: Usage.Usage): Array<Usage.Named> => {
    switch (usage._tag) {
      case "Named":
        return [usage]
      case "Optional":
      case "Repeated":
        return named(usage.usage)
      case "Alternation":
      case "Concat":
        return [...named(usage.left), ...named(usage.right)]
      default:
        return []
    }
  }
  return (["update", "status", "simulate"] as const).map((which) => {
    // The first name is the command's own.
    const usage = which === "update"
      ? Command.getUsage(commands.update)
      : which === "status"
      ? Command.getUsage(commands.status)
      : Command.getUsage(commands.simulate)
    const options = named(usage).filter(({ names }) => names.some((name) => name.startsWith("-")))
    return [which, options] as const
  })
})()

describe("what a signal means", () => {
  it.each([
    [["-d"], true],
    [["--daemon", "-v"], true],
    [["--staged"], true],
    [["-v", "--staged", "-r", "http://127.0.0.1:1"], true],
    [[], false],
    [["-v"], false],
    [["-n"], false],
    [["status"], false],
    [["status", "--staged"], false]
  ] as const)("%j: a normal stop (exit 0) is %s", (args, clean) => {
    expect(stopsOnSignal(["node", "cloudbackup-updater", ...args])).toBe(clean)
  })
})

describe("--help", () => {
  const argsOf = (which: string) => (which === "update" ? [] : [which])

  it.each(accepted.flatMap(([which]) => [[which, "-h"], [which, "--help"]]))("%s %s fits one screen, plain", (which, flag) => {
    const { code, stdout, stderr } = run(...argsOf(which), flag)
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    const lines = stdout.replace(/\n$/, "").split("\n")
    expect(lines.length).toBeLessThanOrEqual(40)
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/^Usage: cloudbackup-updater/)
    expect(stdout).toMatch(/^Exit status: 0 done, 1 failed, 2 usage error/m)
    expect(stdout).not.toContain("A user-defined piece of text")
    for (const hidden of ["--wizard", "--log-level", "--completions"]) expect(stdout).not.toContain(hidden)
  })

  it.each(accepted)("%s: every option the parser accepts has its line", (which, options) => {
    expect(options.length).toBeGreaterThan(0)
    const { stdout } = run(...argsOf(which), "--help")
    for (const { acceptedValues, names } of options) {
      const long = names.find((name) => name.startsWith("--"))!
      const short = names.find((name) => /^-[^-]$/.test(name))
      const value = Option.match(acceptedValues, { onNone: () => "", onSome: (value) => ` ${value}` })
      const left = `${short === undefined ? "    " : `${short}, `}${long}${value}`.replace(/[|]/g, "\\|")
      expect(stdout).toMatch(new RegExp(`^  ${left}( |$)`, "m"))
    }
  })

  it("shows the defaults", () => {
    const { stdout } = run("--help")
    for (
      const shown of [
        `(default: ${DEFAULT_REPOSITORY})`,
        "(default: 60)",
        "(default: 30)",
        `(default: ${DEFAULT_PIDFILE})`,
        DEFAULT_LOG_FILE,
        "(default: detected)",
        "(default: no limit)"
      ]
    ) {
      expect(stdout).toContain(shown)
    }
  })

  it("--log-level before --help still gets this help", () => {
    expect(run("--log-level", "debug", "--help")).toEqual(run("--help"))
  })
})

describe("--wizard with stdin not a terminal", () => {
  it.each([[["--wizard"]], [["status", "--wizard"]], [["simulate", "--wizard"]], [["--log-level", "debug", "--wizard"]]])(
    "%j prompts for nothing: exit 2, one line",
    (args) => {
      expect(run(...args)).toEqual({ code: 2, stdout: "", stderr: "cloudbackup-updater: --wizard: stdin is not a terminal\n" })
    }
  )
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
