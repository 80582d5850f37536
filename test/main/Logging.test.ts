import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import { type Fstat, isJournal } from "../../src/domain/JournalStream.js"
import { wrap } from "../../src/main/CliConsole.js"
import * as Logging from "../../src/main/Logging.js"

/** stderr as seen through fstat: device 27, inode 4242. */
const fstat: Fstat = () => ({ dev: 27n, ino: 4242n })

const fakeStream = () => {
  const written: Array<string> = []
  const stream = { isTTY: false, write: (text: string) => written.push(text) === 0 } as unknown as NodeJS.WriteStream
  return { stream, written }
}

/** What a program logging every level writes to stderr, given the environment (debug level, as with -v). */
const logAll = (env: NodeJS.ProcessEnv) => {
  const { stream, written } = fakeStream()
  const logs = Effect.all([
    Effect.logDebug("looking"),
    Effect.logInfo("installing 1.2"),
    Effect.logWarning("left half-way"),
    Effect.logError("upgrade failed"),
    Effect.logFatal("gave up")
  ])
  Effect.runSync(logs.pipe(Effect.provide(Logging.useLogger(Logging.stderrLogger(stream, isJournal(env, fstat)), true))))
  return written
}

const PLAIN = ["debug: looking\n", "info: installing 1.2\n", "warn: left half-way\n", "error: upgrade failed\n", "fatal: gave up\n"]

describe("the stderr logger", () => {
  it("connected to the journal, each level carries its sd-daemon priority in place of its word", () => {
    expect(logAll({ JOURNAL_STREAM: "27:4242" }))
      .toEqual(["<7>looking\n", "<6>installing 1.2\n", "<4>left half-way\n", "<3>upgrade failed\n", "<2>gave up\n"])
  })

  it.each([
    ["absent (a terminal, a file, a pipe)", {}],
    ["another stream's device:inode", { JOURNAL_STREAM: "27:4243" }],
    ["malformed", { JOURNAL_STREAM: "27-4242" }]
  ])("without a prefix when JOURNAL_STREAM is %s", (_, env) => {
    expect(logAll(env)).toEqual(PLAIN)
  })

  it("prefixes each line of a message and keeps the first line of a cause", () => {
    const { stream, written } = fakeStream()
    Effect.runSync(
      Effect.logError("two\nlines", Cause.fail(new Error("boom"))).pipe(Effect.provide(Logging.useLogger(Logging.journalLogger(stream), false)))
    )
    expect(written).toEqual(["<3>two\n<3>lines (Error: boom)\n"])
  })

  it("keeps debug lines out by default (info), and in with -v", () => {
    const run = (verbose: boolean) => {
      const { stream, written } = fakeStream()
      Effect.runSync(
        Effect.all([Effect.logDebug("d"), Effect.logInfo("i")]).pipe(
          Effect.provide(Logging.useLogger(Logging.journalLogger(stream), verbose))
        )
      )
      return written
    }
    expect(run(false)).toEqual(["<6>i\n"])
    expect(run(true)).toEqual(["<7>d\n", "<6>i\n"])
  })
})

describe("withStderrLogger", () => {
  it("sets the level for its effect only", () => {
    const after = Effect.runSync(
      Logging.withStderrLogger(true, false)(FiberRef.get(FiberRef.currentMinimumLogLevel)).pipe(
        Effect.zip(FiberRef.get(FiberRef.currentMinimumLogLevel))
      )
    )
    expect(after).toEqual([LogLevel.Debug, LogLevel.Info])
  })
})

describe("the command line's error console", () => {
  const errors = (journal: boolean) => {
    const lines: Array<unknown> = []
    const console = wrap({ error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => lines.push(...args)) } as never, journal)
    Effect.runSync(console.error("bad option\n"))
    return lines
  }

  it("names the program, at the journal's error priority when stderr is the journal", () => {
    expect(errors(false)).toEqual(["cloudbackup-updater: bad option"])
    expect(errors(true)).toEqual(["<3>cloudbackup-updater: bad option"])
  })
})
