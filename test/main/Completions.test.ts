/**
 * The bash and zsh completions, generated from the option specs: they offer every option the
 * parser knows and nothing else, and the values the parser accepts. The bash script runs in bash
 * (COMP_WORDS and COMP_CWORD set as bash sets them, then its function); the zsh script runs in
 * an interactive zsh in a pseudo-terminal (test/support/zsh-complete.zsh) where zsh is installed
 * (packaging/setup-host.sh installs it).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { packageManagerNames } from "../../src/layers/packageManagers/index.js"
import { serviceManagerKinds } from "../../src/services/AgentService.js"
import * as Cli from "../../src/main/Cli.js"
import * as Completions from "../../src/main/Completions.js"
import * as OptionSpec from "../../src/main/OptionSpec.js"

const PROGRAM = "cloudbackup-updater"
const ZSH_COMPLETE = path.resolve(__dirname, "../support/zsh-complete.zsh")

const onPath = (program: string) =>
  (process.env["PATH"] ?? "").split(":").some((dir) => dir !== "" && fs.existsSync(path.join(dir, program)))

/** Every name the parser knows for each command: its specs, and @effect/cli's --help and --version. */
const namesOf = (command: Cli.CommandName) =>
  [...OptionSpec.specsOf(Cli.described[command]), ...Cli.builtIns]
    .flatMap((spec) => [...(spec.alias === undefined ? [] : [`-${spec.alias}`]), `--${spec.name}`])
    .sort()

const sorted = (words: ReadonlyArray<string>) => [...words].sort()

let dir: string
let bashScript: string

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cloudbackup-updater-completions-"))
  for (const [name, text] of Object.entries(Completions.files(Cli.completionSpec))) {
    fs.writeFileSync(path.join(dir, name), text)
  }
  bashScript = path.join(dir, PROGRAM)
  // Files for -l and -p to complete.
  fs.mkdirSync(path.join(dir, "logs"))
  fs.writeFileSync(path.join(dir, "logs", "updater.log"), "")
  fs.writeFileSync(path.join(dir, "logs", "updater.pid"), "")
})

afterAll(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

/** bash without rc files, with the script sourced, running `commands`. */
const inBash = (commands: string) => {
  const result = spawnSync("bash", ["--norc", "--noprofile", "-c", `source "$1" || exit 9\n${commands}`, "bash", bashScript], {
    encoding: "utf8",
    timeout: 20_000
  })
  expect(result.status, result.stderr).toBe(0)
  expect(result.stderr).toBe("")
  return result.stdout
}

/** What bash offers for the last of `words` (COMP_WORDS, as bash splits the line: `--a=b` is `--a`, `=`, `b`). */
const bashCompletes = (...words: ReadonlyArray<string>): Array<string> => {
  const quoted = [PROGRAM, ...words].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(" ")
  const out = inBash(
    [
      `COMP_WORDS=(${quoted})`,
      "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))",
      'COMP_LINE="${COMP_WORDS[*]}"',
      "COMP_POINT=${#COMP_LINE}",
      "COMPREPLY=()",
      // As bash calls the function that `complete -F` names: command, word, previous word.
      'function=$(complete -p cloudbackup-updater | sed -n "s/^complete -F \\([^ ]*\\) cloudbackup-updater$/\\1/p")',
      '"$function" cloudbackup-updater "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
      'printf "%s\\n" "${COMPREPLY[@]}"'
    ].join("\n")
  )
  return out.split("\n").filter((line) => line !== "")
}

describe("the option specs", () => {
  it("say what every value is completed with: files for a PATH, the parser's choices", () => {
    for (const command of ["update", "status", "simulate"] as const) {
      for (const spec of OptionSpec.specsOf(Cli.described[command])) {
        if (spec.argument === "PATH") expect(spec.values, spec.name).toBe("file")
        if (spec.argument?.includes("|")) expect(spec.values, spec.name).toEqual(spec.argument.split("|"))
        if (spec.argument === undefined) expect(spec.values, spec.name).toBeUndefined()
      }
    }
    expect(Cli.described.update.packageManager.spec.values).toEqual(packageManagerNames)
    expect(Cli.described.update.serviceManager.spec.values).toEqual(serviceManagerKinds)
  })

  it("are refused by the generators when a name could need quoting", () => {
    const line = (name: string): Completions.CommandLine => ({
      program: PROGRAM,
      options: [{ name, description: "x" }],
      commands: []
    })
    expect(() => Completions.bash(line("a b"))).toThrow(/"a b" is not a plain word/)
    expect(() => Completions.zsh(line("x'y"))).toThrow(/is not a plain word/)
    expect(() =>
      Completions.bash({ program: PROGRAM, options: [{ name: "m", argument: "X", description: "x", values: ["$(id)"] }], commands: [] })
    ).toThrow(/is not a plain word/)
  })
})

describe("the bash completion", () => {
  it("parses, and registers a function for cloudbackup-updater", () => {
    expect(spawnSync("bash", ["-n", bashScript], { encoding: "utf8" }).status).toBe(0)
    expect(inBash("complete -p cloudbackup-updater").trim()).toBe("complete -F _cloudbackup_updater cloudbackup-updater")
  })

  it.each([["update", []], ["status", ["status"]], ["simulate", ["simulate"]]] as const)(
    "offers every option of %s that the parser knows, and no other",
    (command, before) => {
      expect(sorted(bashCompletes(...before, "-"))).toEqual(namesOf(command))
    }
  )

  it("completes options and commands by their start", () => {
    expect(bashCompletes("--pack")).toEqual(["--package-manager"])
    expect(bashCompletes("-v", "--d")).toEqual(["--daemon", "--dry-run"])
    expect(bashCompletes("st")).toEqual(["status"])
    expect(sorted(bashCompletes(""))).toEqual(sorted(["status", "simulate", ...namesOf("update")]))
    // A command is only the first word; after an option, `status` is not one.
    expect(bashCompletes("-v", "st")).toEqual([])
    expect(sorted(bashCompletes("status", "--"))).toEqual(namesOf("status").filter((name) => name.startsWith("--")))
    expect(bashCompletes("status", "--j")).toEqual(["--json"])
    expect(sorted(bashCompletes("simulate", "--"))).toEqual(namesOf("simulate").filter((name) => name.startsWith("--")))
    expect(bashCompletes("simulate", "--h")).toEqual(["--hosts", "--hours", "--help"])
    // -i is not an option of simulate.
    expect(bashCompletes("simulate", "-i")).toEqual([])
  })

  it("completes the choices of --package-manager and --service-manager, also after =", () => {
    expect(bashCompletes("--package-manager", "")).toEqual([...packageManagerNames])
    expect(bashCompletes("--package-manager", "y")).toEqual(["yum"])
    expect(bashCompletes("--package-manager", "=")).toEqual([...packageManagerNames])
    expect(bashCompletes("--package-manager", "=", "z")).toEqual(["zypper"])
    expect(bashCompletes("status", "--service-manager", "")).toEqual([...serviceManagerKinds])
    expect(bashCompletes("-v", "--service-manager", "=", "sy")).toEqual(["systemd", "sysv"])
  })

  it("completes file names for -l and -p, and nothing for a number or a URI", () => {
    const logs = path.join(dir, "logs")
    expect(sorted(bashCompletes("-l", `${logs}/`))).toEqual([`${logs}/updater.log`, `${logs}/updater.pid`])
    expect(bashCompletes("-d", "--log-file", "=", `${logs}/updater.l`)).toEqual([`${logs}/updater.log`])
    expect(bashCompletes("status", "-p", `${logs}/updater.p`)).toEqual([`${logs}/updater.pid`])
    expect(bashCompletes("--pidfile", `${logs}/updater.p`)).toEqual([`${logs}/updater.pid`])
    for (const option of ["-i", "--interval", "--max-wait", "--health-grace", "-r", "--repository"]) {
      expect(bashCompletes(option, ""), option).toEqual([])
    }
    expect(bashCompletes("status", "-r", "")).toEqual([])
  })
})

describe("the bash completion under bash-completion", () => {
  const BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

  /** bash with bash-completion, which loads the script as it would from /usr/share/bash-completion/completions. */
  const loaded = (commands: string) => {
    const data = path.join(dir, "share")
    fs.mkdirSync(path.join(data, "bash-completion", "completions"), { recursive: true })
    fs.copyFileSync(bashScript, path.join(data, "bash-completion", "completions", PROGRAM))
    const result = spawnSync("bash", ["--norc", "--noprofile", "-c", `source ${BASH_COMPLETION}\n${commands}`], {
      encoding: "utf8",
      timeout: 20_000,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, XDG_DATA_HOME: data }
    })
    expect(result.status, result.stderr).toBe(0)
    return result.stdout
  }

  it("is found by its name, and completes files with bash-completion's _filedir", (context) => {
    context.skip(!fs.existsSync(BASH_COMPLETION), "bash-completion is not installed (packaging/setup-host.sh installs it)")
    const logs = path.join(dir, "logs")
    const complete = (...words: ReadonlyArray<string>) =>
      [
        `COMP_WORDS=(${[PROGRAM, ...words].map((word) => `'${word}'`).join(" ")})`,
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))",
        "COMPREPLY=()",
        "_cloudbackup_updater cloudbackup-updater \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"",
        "printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '; echo"
      ].join("\n")
    const out = loaded(
      [
        "__load_completion cloudbackup-updater && complete -p cloudbackup-updater",
        complete("-l", `${logs}/`),
        complete("status", "--pidfile", "=", `${logs}/updater.p`),
        complete("--package-manager", "=", ""),
        complete("--pa")
      ].join("\n")
    ).split("\n")
    expect(out).toEqual([
      "complete -F _cloudbackup_updater cloudbackup-updater",
      `${logs}/updater.log ${logs}/updater.pid `,
      `${logs}/updater.pid `,
      `${sorted(packageManagerNames).join(" ")} `,
      "--package-manager ",
      ""
    ])
  })
})

describe("the zsh completion", () => {
  /** What zsh offers at the end of `line`, sorted (zsh sorts and groups by itself). */
  const zshCompletes = (line: string): Array<string> => {
    const result = spawnSync("zsh", ["-f", ZSH_COMPLETE, dir, line], {
      encoding: "utf8",
      timeout: 20_000,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, TERM: "dumb" }
    })
    expect(result.status, `${line}: ${result.stderr}`).toBe(0)
    return sorted(result.stdout.split("\n").filter((word) => word !== ""))
  }

  it("parses (zsh -n) and is a #compdef file for cloudbackup-updater", (context) => {
    context.skip(!onPath("zsh"), "zsh is not installed (packaging/setup-host.sh installs it)")
    const file = path.join(dir, `_${PROGRAM}`)
    const result = spawnSync("zsh", ["-n", file], { encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    expect(fs.readFileSync(file, "utf8").split("\n")[0]).toBe(`#compdef ${PROGRAM}`)
  })

  it("quotes descriptions and summaries with quotes, brackets, colons and backslashes", (context) => {
    context.skip(!onPath("zsh"), "zsh is not installed (packaging/setup-host.sh installs it)")
    const awkward = "it's [odd]: a\\b"
    const script = Completions.zsh({
      program: PROGRAM,
      options: [{ name: "odd", argument: "A:B", description: awkward }],
      commands: [{ name: "status", summary: awkward, options: [{ name: "odd", description: awkward }] }]
    })
    const result = spawnSync("zsh", ["-n"], { input: script, encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    expect(script).toContain(`'(--odd)--odd=[it'\\''s \\[odd\\]\\: a\\\\b]:A\\:B: '`)
  })

  it("offers every option of each command that the parser knows, and no other", (context) => {
    context.skip(!onPath("zsh"), "zsh is not installed (packaging/setup-host.sh installs it)")
    expect(zshCompletes(`${PROGRAM} -`)).toEqual(namesOf("update"))
    expect(zshCompletes(`${PROGRAM} status -`)).toEqual(namesOf("status"))
    expect(zshCompletes(`${PROGRAM} simulate -`)).toEqual(namesOf("simulate"))
    // An option given is not offered again, nor its other name.
    expect(zshCompletes(`${PROGRAM} -v -`)).toEqual(namesOf("update").filter((name) => name !== "-v" && name !== "--verbose"))
  }, 60_000)

  it("completes commands, options by their start, choices, files; nothing for a number", (context) => {
    context.skip(!onPath("zsh"), "zsh is not installed (packaging/setup-host.sh installs it)")
    expect(zshCompletes(`${PROGRAM} `)).toEqual(["simulate", "status"])
    expect(zshCompletes(`${PROGRAM} --pack`)).toEqual(["--package-manager"])
    expect(zshCompletes(`${PROGRAM} --package-manager `)).toEqual(sorted(packageManagerNames))
    expect(zshCompletes(`${PROGRAM} status --service-manager=s`)).toEqual(sorted(serviceManagerKinds))
    expect(zshCompletes(`${PROGRAM} -l ${dir}/logs/updater.`)).toEqual(["updater.log", "updater.pid"])
    expect(zshCompletes(`${PROGRAM} --interval `)).toEqual([])
  }, 60_000)
})
