import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { UsageError } from "../../src/programs/ExitCode.js"
import type * as OptionsFile from "../../src/main/OptionsFile.js"
import * as OptionsMerge from "../../src/main/OptionsMerge.js"

const FILE = "/tmp/options"
const NODE = ["/usr/bin/node", "/usr/bin/cloudbackup-updater"]

/** `argv` with the options file holding `opts` (CLOUDBACKUP_UPDATER_OPTS on line 2). */
const run = (opts: string, ...args: Array<string>) => {
  const reads: Array<string> = []
  const read: OptionsFile.ReadText = (path) =>
    Effect.sync(() => {
      reads.push(path)
      return Option.some(`# options\nCLOUDBACKUP_UPDATER_OPTS="${opts}"\n`)
    })
  const result = Effect.runSync(
    Effect.either(OptionsMerge.withOptionsFile([...NODE, ...args], { CLOUDBACKUP_UPDATER_OPTIONS_FILE: FILE }, read))
  )
  return {
    args: Either.map(result, ({ argv }) => argv.slice(2)),
    notes: Either.match(result, { onLeft: () => [], onRight: ({ notes }) => notes }),
    reads
  }
}

const args = (opts: string, ...cli: Array<string>) => run(opts, ...cli).args
const notes = (opts: string, ...cli: Array<string>) => run(opts, ...cli).notes

describe("the options file's words before the command line's", () => {
  it("a pass takes every option of the file, the command line's after", () => {
    expect(args("-r https://mirror.example.test -i 30 --package-manager apt -v", "-n"))
      .toEqual(Either.right(["-r", "https://mirror.example.test", "-i", "30", "--package-manager", "apt", "-v", "-n"]))
  })

  it("no options file: the command line as it was", () => {
    const read: OptionsFile.ReadText = () => Effect.succeedNone
    expect(Effect.runSync(OptionsMerge.withOptionsFile([...NODE, "-v"], {}, read))).toEqual({ argv: [...NODE, "-v"], notes: [] })
  })

  it.each([
    [["-r", "https://other.example.test"]],
    [["--repository", "https://other.example.test"]],
    [["--repository=https://other.example.test"]]
  ])("the command line's %j drops the file's -r and its value", (cli) => {
    expect(args("-v -r https://mirror.example.test -i 30", ...cli)).toEqual(Either.right(["-v", "-i", "30", ...cli]))
    expect(args("-v --repository=https://mirror.example.test -i 30", ...cli)).toEqual(Either.right(["-v", "-i", "30", ...cli]))
    expect(args("-v --repository https://mirror.example.test -i 30", ...cli)).toEqual(Either.right(["-v", "-i", "30", ...cli]))
  })

  it("a flag overrides the file's, in any form, a value such as `false` included", () => {
    expect(args("-v -i 30", "--verbose=false")).toEqual(Either.right(["-i", "30", "--verbose=false"]))
    expect(args("--verbose -i 30", "-v")).toEqual(Either.right(["-i", "30", "-v"]))
    expect(args("-v no -i 30", "-v")).toEqual(Either.right(["-i", "30", "-v"]))
  })

  it("clustered short flags are read one by one", () => {
    expect(args("-vn -i 30", "-v")).toEqual(Either.right(["-n", "-i", "30", "-v"]))
    expect(args("-v -n -i 30", "-vn")).toEqual(Either.right(["-i", "30", "-vn"]))
  })

  it("the command line's value is not taken for an option", () => {
    // -l takes "-v" as its value, as the parser does: the file's -v stays.
    expect(args("-v", "-l", "-v")).toEqual(Either.right(["-v", "-l", "-v"]))
  })

  it("an option given twice in the file: the later one is taken", () => {
    expect(args("-i 5 -v --interval=30")).toEqual(Either.right(["-v", "--interval=30"]))
    expect(notes("-i 5 -v --interval=30")).toEqual([`${FILE}:2: -i 5 in CLOUDBACKUP_UPDATER_OPTS ignored: given again later`])
  })

  it("-d and --staged in the file are never taken: a hand-run pass stays one; the debug log says so", () => {
    expect(run("-d -v -i 30")).toMatchObject({
      args: Either.right(["-v", "-i", "30"]),
      notes: [`${FILE}:2: -d in CLOUDBACKUP_UPDATER_OPTS ignored: only the command line chooses the daemon or a staged pass`]
    })
    expect(args("--daemon -v")).toEqual(Either.right(["-v"]))
    expect(args("--staged -v")).toEqual(Either.right(["-v"]))
    expect(args("-v --staged", "--staged")).toEqual(Either.right(["-v", "--staged"]))
    expect(args("-dv")).toEqual(Either.right(["-v"]))
    expect(args("-v -d", "-d")).toEqual(Either.right(["-v", "-d"]))
  })

  it("the service's command line repeating the file's options: the same words, nothing to note", () => {
    const service = run("-v -r https://mirror.example.test", "-d", "-v", "-r", "https://mirror.example.test")
    expect(service).toMatchObject({ args: Either.right(["-d", "-v", "-r", "https://mirror.example.test"]), notes: [] })
    expect(notes("-v -r https://mirror.example.test", "-r", "https://other.example.test"))
      .toEqual([`${FILE}:2: -r https://mirror.example.test in CLOUDBACKUP_UPDATER_OPTS ignored: the command line gives it`])
  })

  it("status takes only its own options; the debug log names the others", () => {
    const { args, notes } = run("-r https://mirror.example.test -i 30 -l /var/log/u.log --package-manager apt -v -d -p /run/u.pid", "status", "--json")
    expect(args).toEqual(
      Either.right(["status", "-r", "https://mirror.example.test", "--package-manager", "apt", "-p", "/run/u.pid", "--json"])
    )
    expect(notes).toEqual(
      ["-i 30", "-l /var/log/u.log", "-v", "-d"].map((words) =>
        `${FILE}:2: ${words} in CLOUDBACKUP_UPDATER_OPTS ignored: not an option of status`
      )
    )
  })

  it("status ignores words no command knows; a pass refuses them, naming the file's line", () => {
    expect(args("--bogus -r https://mirror.example.test", "status")).toEqual(Either.right(["status", "-r", "https://mirror.example.test"]))
    expect(args("--bogus -v")).toEqual(
      Either.left(new UsageError({ detail: `${FILE}:2: "--bogus" in CLOUDBACKUP_UPDATER_OPTS is not an option of cloudbackup-updater` }))
    )
    expect(args("-v status")).toEqual(
      Either.left(new UsageError({ detail: `${FILE}:2: "status" in CLOUDBACKUP_UPDATER_OPTS is not an option of cloudbackup-updater` }))
    )
    expect(args("--json")).toEqual(
      Either.left(new UsageError({ detail: `${FILE}:2: "--json" in CLOUDBACKUP_UPDATER_OPTS is not an option of cloudbackup-updater` }))
    )
  })

  it("an option without its value, last in the file, is refused", () => {
    expect(args("-v -r")).toEqual(Either.left(new UsageError({ detail: `${FILE}:2: -r in CLOUDBACKUP_UPDATER_OPTS needs a value` })))
    expect(args("-r", "status")).toEqual(Either.left(new UsageError({ detail: `${FILE}:2: -r in CLOUDBACKUP_UPDATER_OPTS needs a value` })))
  })

  it("@effect/cli's --log-level stays first, where the parser takes it", () => {
    expect(args("-r https://mirror.example.test", "status", "--log-level", "debug", "--json"))
      .toEqual(Either.right(["status", "--log-level", "debug", "-r", "https://mirror.example.test", "--json"]))
    expect(args("-v", "--log-level=debug", "-n")).toEqual(Either.right(["--log-level=debug", "-v", "-n"]))
  })

  it.each([[["simulate"]], [["--help"]], [["-h"]], [["--version"]], [["status", "--help"]], [["-v", "-h"]], [["--wizard"]], [["--log-level", "debug", "--wizard"]]])(
    "%j reads no file",
    (cli) => {
      const { args, reads } = run("-v", ...cli)
      expect(args).toEqual(Either.right(cli))
      expect(reads).toEqual([])
    }
  )

  it("from the environment variable (the service's), as the service runs: all on its command line already", () => {
    const read: OptionsFile.ReadText = () => Effect.die("no file is read")
    const service = (opts: string, ...cli: Array<string>) =>
      Effect.runSync(Effect.either(OptionsMerge.withOptionsFile([...NODE, ...cli], { CLOUDBACKUP_UPDATER_OPTS: opts }, read)))
    expect(service("-v -r https://mirror.example.test", "--staged", "-v", "-r", "https://mirror.example.test"))
      .toEqual(Either.right({ argv: [...NODE, "--staged", "-v", "-r", "https://mirror.example.test"], notes: [] }))
    expect(service("-v --bogus", "--staged", "-v", "--bogus")).toEqual(
      Either.left(new UsageError({ detail: "$CLOUDBACKUP_UPDATER_OPTS: \"--bogus\" is not an option of cloudbackup-updater" }))
    )
  })

  it("a broken file is a usage error naming its line", () => {
    const read: OptionsFile.ReadText = () => Effect.succeedSome("A=1\nexport CLOUDBACKUP_UPDATER_OPTS=-v\n")
    const error = Effect.runSync(Effect.flip(OptionsMerge.withOptionsFile([...NODE, "status"], { CLOUDBACKUP_UPDATER_OPTIONS_FILE: FILE }, read)))
    expect(error).toEqual(
      new UsageError({ detail: `${FILE}:2: "export" is not understood by systemd: write CLOUDBACKUP_UPDATER_OPTS=… without it` })
    )
  })
})

describe("whether the notes are shown", () => {
  it.each([
    [["-v"], true],
    [["-i", "5", "--verbose"], true],
    [["-nv"], true],
    [["-v", "false"], false],
    [["--verbose=no"], false],
    [["status", "--json"], false],
    [["status", "--log-level", "debug", "--json"], true],
    [["--log-level=Debug"], true],
    [["--log-level", "info", "-n"], false],
    [["-l", "-v"], false]
  ])("%j: %s", (cli, shown) => {
    expect(OptionsMerge.wantsDebug([...NODE, ...cli])).toBe(shown)
  })
})
