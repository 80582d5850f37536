/**
 * Whether a stream is connected to the systemd journal, and the sd-daemon(3) priority prefixes
 * it reads there. systemd.exec(5): the service manager sets `JOURNAL_STREAM` to the journal
 * stream's `device:inode`; a stream is the journal only when its own fstat() matches.
 */
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"

export interface FileIdentity {
  readonly dev: bigint
  readonly ino: bigint
}

/** fstat(2) of a descriptor; it may throw (a closed descriptor). */
export type Fstat = (fd: number) => FileIdentity

export const STDERR = 2

export const parseJournalStream = (value: string | undefined): Option.Option<FileIdentity> => {
  const match = /^(\d+):(\d+)$/.exec(value ?? "")
  return match === null ? Option.none() : Option.some({ dev: BigInt(match[1]!), ino: BigInt(match[2]!) })
}

const identityOf = (fstat: Fstat, fd: number): Option.Option<FileIdentity> => {
  try {
    return Option.some(fstat(fd))
  } catch {
    return Option.none()
  }
}

export const isJournal = (env: NodeJS.ProcessEnv, fstat: Fstat, fd: number = STDERR): boolean =>
  Option.match(parseJournalStream(env["JOURNAL_STREAM"]), {
    onNone: () => false,
    onSome: (journal) =>
      Option.exists(identityOf(fstat, fd), (stream) => stream.dev === journal.dev && stream.ino === journal.ino)
  })

const PRIORITIES: Record<LogLevel.LogLevel["_tag"], number> = {
  All: 7,
  Trace: 7,
  Debug: 7,
  Info: 6,
  Warning: 4,
  Error: 3,
  Fatal: 2,
  None: 6
}

export const PRIORITY_ERROR = PRIORITIES.Error

export const priorityOf = (level: LogLevel.LogLevel): number => PRIORITIES[level._tag]

/** Every line of `text` with the prefix: journald reads a priority per line, and a bare line is "info". */
export const withPriority = (priority: number, text: string): string =>
  text.split("\n").map((line) => `<${priority}>${line}`).join("\n")
