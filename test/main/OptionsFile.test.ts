import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import fc from "fast-check"
import * as OptionsFile from "../../src/main/OptionsFile.js"

const FILE = "/etc/default/cloudbackup-updater"

const values = (text: string) =>
  Either.map(OptionsFile.parse(text, FILE), (assignments) => assignments.map(({ name, value }) => [name, value]))

const failure = (text: string) =>
  Either.match(OptionsFile.parse(text, FILE), { onLeft: (error) => error.message, onRight: () => "parsed" })

/** The words of the file's CLOUDBACKUP_UPDATER_OPTS, or its error line. */
const words = (text: string) =>
  Either.match(OptionsFile.fromText(text, FILE), {
    onLeft: (error): ReadonlyArray<string> | string => error.message,
    onRight: Option.match({ onNone: () => [], onSome: ({ words }) => words })
  })

describe("the options file, read as systemd reads an EnvironmentFile", () => {
  it("reads NAME=VALUE lines; comments (# and ;) and blank lines are skipped", () => {
    expect(values("# options\n\n; another comment\n  \nA=1\nB = two words  \n\tC=\n")).toEqual(
      Either.right([["A", "1"], ["B", "two words"], ["C", ""]])
    )
  })

  it("takes quotes off, keeping their blanks, and joins what follows a closing quote", () => {
    expect(values(`A="  x  "\nB='a "b" c'\nC="x"y\nD=a "b"\nE="x"  \n`)).toEqual(
      Either.right([["A", "  x  "], ["B", "a \"b\" c"], ["C", "xy"], ["D", "a \"b\""], ["E", "x"]])
    )
  })

  it("in double quotes, a backslash escapes only \" \\ ` $ and keeps itself before anything else", () => {
    expect(values(String.raw`A="a\"b\\c\$d\`e\nf\ g"` + "\n")).toEqual(Either.right([["A", "a\"b\\c$d`e\\nf\\ g"]]))
  })

  it("unquoted, a backslash keeps the character after it, a blank too", () => {
    expect(values(String.raw`A=a\ b\\c\"d\ ` + "\n")).toEqual(Either.right([["A", "a b\\c\"d "]]))
  })

  it("single quotes keep backslashes and line ends", () => {
    expect(values("A='a\\b\nc'\n")).toEqual(Either.right([["A", "a\\b\nc"]]))
  })

  it("a backslash at a line's end continues the value, unquoted or in double quotes", () => {
    expect(values("A=one \\\ntwo\nB=\"x \\\ny\"\nC=3\n")).toEqual(Either.right([["A", "one two"], ["B", "x y"], ["C", "3"]]))
  })

  it("a comment ends at its line even after a backslash (systemd ≥ 254)", () => {
    expect(values("# comment \\\nA=1\n")).toEqual(Either.right([["A", "1"]]))
  })

  it("a # after a value is part of it, as systemd reads it", () => {
    expect(values("A=-v # verbose\n")).toEqual(Either.right([["A", "-v # verbose"]]))
  })

  it("reads CRLF line ends and a last line without one", () => {
    expect(values("A=1\r\nB=\"2\"\r\nC=3")).toEqual(Either.right([["A", "1"], ["B", "2"], ["C", "3"]]))
  })

  it.each([
    ["-v\n", `${FILE}:1: "-v" is not an assignment (NAME=VALUE)`],
    ["A=1\n# c\nCLOUDBACKUP_UPDATER_OPTS\n", `${FILE}:3: "CLOUDBACKUP_UPDATER_OPTS" is not an assignment (NAME=VALUE)`],
    ["A=1\nexport CLOUDBACKUP_UPDATER_OPTS=\"-v\"\n", `${FILE}:2: "export" is not understood by systemd: write CLOUDBACKUP_UPDATER_OPTS=… without it`],
    ["A=1\n\n1X=2\n", `${FILE}:3: "1X" is not a variable name`],
    ["A-B=1\n", `${FILE}:1: "A-B" is not a variable name`],
    ["A=1\nB=\"open\n\nC=2\n", `${FILE}:2: the " quote opened on this line is never closed`],
    ["A='open\n", `${FILE}:1: the ' quote opened on this line is never closed`],
    ["A=one \\\ntwo\nlast", `${FILE}:3: "last" is not an assignment (NAME=VALUE)`]
  ])("%j is refused, naming its line", (text, message) => {
    expect(failure(text)).toBe(message)
  })
})

describe("CLOUDBACKUP_UPDATER_OPTS, split as systemd splits $CLOUDBACKUP_UPDATER_OPTS in ExecStart", () => {
  it("splits the value on blanks", () => {
    expect(words("CLOUDBACKUP_UPDATER_OPTS=\"-r https://mirror.example.test  -i 30\t--package-manager apt -v\"\n"))
      .toEqual(["-r", "https://mirror.example.test", "-i", "30", "--package-manager", "apt", "-v"])
  })

  it("honours quotes and backslashes inside the value", () => {
    expect(words(`CLOUDBACKUP_UPDATER_OPTS="-l '/var/log/my updater.log' -p /run/a\\\\ b.pid ''"\n`))
      .toEqual(["-l", "/var/log/my updater.log", "-p", "/run/a b.pid", ""])
  })

  it("takes the last assignment; other variables do not matter", () => {
    expect(words("CLOUDBACKUP_UPDATER_OPTS=-v\nCLOUDBACKUP_UPDATER_DEBUG=1\nCLOUDBACKUP_UPDATER_OPTS='-i 5'\n")).toEqual(["-i", "5"])
  })

  it("without the variable, or with it empty, there are no options", () => {
    expect(words("# nothing\nCLOUDBACKUP_UPDATER_DEBUG=1\n")).toEqual([])
    expect(words("CLOUDBACKUP_UPDATER_OPTS=\n")).toEqual([])
  })

  it("refuses a quote the value never closes, naming the assignment's line", () => {
    expect(words("# c\nCLOUDBACKUP_UPDATER_OPTS=\"-r 'https://mirror.example.test -v\"\n"))
      .toBe(`${FILE}:2: CLOUDBACKUP_UPDATER_OPTS: a ' quote is never closed`)
  })

  /** A word as ExecStart reads it back whatever it holds: single-quoted, a backslash before \ and '. */
  const quoteWord = (word: string) => `'${word.replace(/[\\']/g, (c) => `\\${c}`)}'`
  /** A value in an EnvironmentFile's double quotes. */
  const quoteValue = (value: string) => `"${value.replace(/["\\`$]/g, (c) => `\\${c}`)}"`

  it("round trip: any words, quoted into the file, come back as they were", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" })), fc.constantFrom(" ", "\t", "  "), (list, blank) => {
        const text = `# options\nCLOUDBACKUP_UPDATER_OPTS=${quoteValue(list.map(quoteWord).join(blank))}\n`
        expect(words(text)).toEqual(list)
      })
    )
  })

  it("round trip: plain words need no quotes", () => {
    const plain = fc.stringMatching(/^[A-Za-z0-9_./:=,+-]+$/)
    fc.assert(
      fc.property(fc.array(plain, { minLength: 1 }), (list) => {
        expect(words(`CLOUDBACKUP_UPDATER_OPTS=${list.join(" ")}`)).toEqual(list)
      })
    )
  })
})

describe("where the options come from", () => {
  /** Files as `read` finds them; a read is recorded. */
  const files = (present: Record<string, string>) => {
    const reads: Array<string> = []
    const read: OptionsFile.ReadText = (path) =>
      Effect.sync(() => {
        reads.push(path)
        return Option.fromNullable(present[path])
      })
    return { read, reads }
  }

  const load = (env: Record<string, string>, present: Record<string, string>) => {
    const { read, reads } = files(present)
    const loaded = Effect.runSync(Effect.either(OptionsFile.load(env, read)))
    return { loaded: Either.map(loaded, Option.map(({ line, source, words }) => ({ source, line: Option.getOrNull(line), words }))), reads }
  }

  const DEB = "/etc/default/cloudbackup-updater"
  const RPM = "/etc/sysconfig/cloudbackup-updater"

  it("CLOUDBACKUP_UPDATER_OPTS in the environment wins: no file is read", () => {
    const { loaded, reads } = load(
      { CLOUDBACKUP_UPDATER_OPTS: "-r 'https://mirror.example.test' -v", CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/tmp/x" },
      { [DEB]: "CLOUDBACKUP_UPDATER_OPTS=-i 5\n" }
    )
    expect(loaded).toEqual(
      Either.right(Option.some({ source: "$CLOUDBACKUP_UPDATER_OPTS", line: null, words: ["-r", "https://mirror.example.test", "-v"] }))
    )
    expect(reads).toEqual([])
  })

  it("set but empty in the environment: no options, no file", () => {
    const { loaded, reads } = load({ CLOUDBACKUP_UPDATER_OPTS: "" }, { [DEB]: "CLOUDBACKUP_UPDATER_OPTS=-v\n" })
    expect(loaded).toEqual(Either.right(Option.some({ source: "$CLOUDBACKUP_UPDATER_OPTS", line: null, words: [] })))
    expect(reads).toEqual([])
  })

  it("CLOUDBACKUP_UPDATER_OPTIONS_FILE names the only file read", () => {
    const { loaded, reads } = load(
      { CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/tmp/options" },
      { "/tmp/options": "# test\nCLOUDBACKUP_UPDATER_OPTS=-v\n", [DEB]: "CLOUDBACKUP_UPDATER_OPTS=-i 5\n" }
    )
    expect(loaded).toEqual(Either.right(Option.some({ source: "/tmp/options", line: 2, words: ["-v"] })))
    expect(reads).toEqual(["/tmp/options"])
  })

  it("a missing file named by CLOUDBACKUP_UPDATER_OPTIONS_FILE: no options, and the packages' files are not read", () => {
    const { loaded, reads } = load({ CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/tmp/none" }, { [DEB]: "CLOUDBACKUP_UPDATER_OPTS=-v\n" })
    expect(loaded).toEqual(Either.right(Option.none()))
    expect(reads).toEqual(["/tmp/none"])
  })

  it("else the deb's file, else the rpm's", () => {
    expect(load({}, { [DEB]: "CLOUDBACKUP_UPDATER_OPTS=-v\n", [RPM]: "CLOUDBACKUP_UPDATER_OPTS=-i 5\n" }))
      .toEqual({ loaded: Either.right(Option.some({ source: DEB, line: 1, words: ["-v"] })), reads: [DEB] })
    expect(load({}, { [RPM]: "CLOUDBACKUP_UPDATER_OPTS=-i 5\n" }))
      .toEqual({ loaded: Either.right(Option.some({ source: RPM, line: 1, words: ["-i", "5"] })), reads: [DEB, RPM] })
  })

  it("no file at all: no options", () => {
    expect(load({}, {})).toEqual({ loaded: Either.right(Option.none()), reads: [DEB, RPM] })
  })

  it("a malformed file fails with its name and line", () => {
    const { loaded } = load({}, { [DEB]: "A=1\n-v\n" })
    expect(Either.getLeft(loaded).pipe(Option.map((error) => error.message)))
      .toEqual(Option.some(`${DEB}:2: "-v" is not an assignment (NAME=VALUE)`))
  })

  it("an unbalanced quote in the environment variable fails, naming the variable", () => {
    const { loaded } = load({ CLOUDBACKUP_UPDATER_OPTS: "-r \"x" }, {})
    expect(Either.getLeft(loaded).pipe(Option.map((error) => error.message)))
      .toEqual(Option.some("$CLOUDBACKUP_UPDATER_OPTS: a \" quote is never closed"))
  })
})

describe("reading the file", () => {
  it.effect("a missing file (or a missing directory on its path) is no file", () =>
    Effect.gen(function*() {
      expect(yield* OptionsFile.readText("/nonexistent-dir/options")).toEqual(Option.none())
      expect(yield* OptionsFile.readText("/dev/null/options")).toEqual(Option.none())
    }))

  it.effect("a file that cannot be read is an error naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(OptionsFile.readText("/"))
      expect(error.message).toBe("/: cannot be read (EISDIR)")
    }))
})
