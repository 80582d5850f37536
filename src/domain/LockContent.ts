/**
 * What a lock file or pidfile tells of its holder: the pid in it, and its age. The
 * agent's backup lock has no specified content: a bare pid, `pid=N`, a word and a pid
 * (`agent 1234`), JSON such as `{"pid":1234}`, or nothing at all.
 */
import * as Option from "effect/Option"

/** Linux never hands out a pid above this (PID_MAX_LIMIT on 64-bit). */
export const PID_MAX = 4_194_304

/**
 * How far a file's mtime and a process start time may disagree about one moment: start
 * times from /proc count from a boot time in whole seconds, and some file systems keep
 * coarse mtimes. A file is only older than a process when it is older by more than this.
 */
export const TIME_SLACK_MILLIS = 2_000

const asPid = (value: unknown): Option.Option<number> => {
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Number.NaN
  return Number.isSafeInteger(n) && n >= 1 && n <= PID_MAX ? Option.some(n) : Option.none()
}

/** Depth first: the value of the first `pid` key (any case), else every integer in document order. */
const jsonCandidates = (value: unknown): { pidKey: Option.Option<unknown>; integers: Array<unknown> } => {
  const integers: Array<unknown> = []
  let pidKey: Option.Option<unknown> = Option.none()
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit)
    } else if (typeof node === "object" && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        if (Option.isNone(pidKey) && key.toLowerCase() === "pid") pidKey = Option.some(child)
        visit(child)
      }
    } else if (typeof node === "number" ? Number.isInteger(node) : typeof node === "string" && /^\d+$/.test(node)) {
      integers.push(node)
    }
  }
  visit(value)
  return { pidKey, integers }
}

const parseJson = (text: string): Option.Option<unknown> => {
  if (!/^[[{]/.test(text)) return Option.none()
  try {
    return Option.some(JSON.parse(text) as unknown)
  } catch {
    return Option.none()
  }
}

// `pid=N`, `pid: N`, `PID N`, and `"pid": N` in JSON that does not parse.
const PID_KEY = /\bpid\b["']?\s*[=:]?\s*["']?(\d+)(?!\d)/i
// Colons are not separators: a time such as 12:30:00 is not a pid.
const SEPARATORS = /[\s,;=()[\]{}<>"'`]+/

/**
 * The pid a lock names, if any: the value of a `pid` key when the content is JSON (only
 * that) or says `pid=`/`pid:`, else the first integer token that can be a pid (1 to PID_MAX;
 * a timestamp is skipped). None for empty content or text without such a number: a
 * number that only might be a pid is not read as one.
 */
export const pidInLock = (content: string): Option.Option<number> => {
  const text = content.trim()
  if (text.length === 0) return Option.none()
  const json = parseJson(text)
  if (Option.isSome(json)) {
    // In JSON only a `pid` key names one: any other number (a count, a size) is not a pid.
    return Option.flatMap(jsonCandidates(json.value).pidKey, asPid)
  }
  const keyed = PID_KEY.exec(text)
  if (keyed !== null) return asPid(keyed[1])
  return Option.firstSomeOf(text.split(SEPARATORS).map(asPid))
}
