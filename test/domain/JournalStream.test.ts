import { describe, expect, it } from "@effect/vitest"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { type Fstat, isJournal, parseJournalStream, priorityOf, withPriority } from "../../src/domain/JournalStream.js"

const STREAM = { dev: 27n, ino: 123456789n }
/** An fstat that knows only stderr, connected to STREAM. */
const fstat: Fstat = (fd) => {
  if (fd !== 2) throw new Error(`EBADF: ${fd}`)
  return STREAM
}

describe("parseJournalStream", () => {
  it("reads device:inode in decimal, exactly, beyond 2^53", () => {
    expect(parseJournalStream("27:123456789")).toEqual(Option.some(STREAM))
    expect(parseJournalStream("8:18446744073709551615")).toEqual(Option.some({ dev: 8n, ino: 18446744073709551615n }))
  })

  it.each([[undefined], [""], ["27"], ["27:"], [":123"], ["27:123:4"], [" 27:123"], ["27:123\n"], ["-27:123"], ["0x1b:123"], ["a:b"]])(
    "%j is not a journal stream",
    (value) => expect(parseJournalStream(value)).toEqual(Option.none())
  )
})

describe("isJournal", () => {
  it("is stderr's device:inode", () => {
    expect(isJournal({ JOURNAL_STREAM: "27:123456789" }, fstat)).toBe(true)
  })

  it.each([
    ["absent", {}],
    ["another device", { JOURNAL_STREAM: "28:123456789" }],
    ["another inode (stdout's, say)", { JOURNAL_STREAM: "27:123456790" }],
    ["malformed", { JOURNAL_STREAM: "journal" }],
    ["empty", { JOURNAL_STREAM: "" }]
  ])("not when JOURNAL_STREAM is %s", (_, env) => {
    expect(isJournal(env, fstat)).toBe(false)
  })

  it("not when the descriptor cannot be examined", () => {
    expect(isJournal({ JOURNAL_STREAM: "27:123456789" }, fstat, 7)).toBe(false)
  })
})

describe("priorities", () => {
  it.each([
    [LogLevel.Fatal, 2],
    [LogLevel.Error, 3],
    [LogLevel.Warning, 4],
    [LogLevel.Info, 6],
    [LogLevel.Debug, 7],
    [LogLevel.Trace, 7]
  ])("%s is <%i>", (level, priority) => expect(priorityOf(level)).toBe(priority))

  it("prefixes every line, as journald reads a priority per line", () => {
    expect(withPriority(3, "one")).toBe("<3>one")
    expect(withPriority(4, "one\ntwo")).toBe("<4>one\n<4>two")
  })
})
