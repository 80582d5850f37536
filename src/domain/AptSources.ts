/**
 * Finds an apt source entry for the agent repository in one-line (`.list`) or
 * deb822 (`.sources`) files, so that an existing entry is never added twice, and
 * makes a legacy entry name a keyring in place.
 */
import * as Either from "effect/Either"
import { publicKeyProblem } from "./OpenPgpKey.js"

export interface AptEntry {
  readonly uri: string
  readonly suite: string
  readonly signedBy: string | undefined
}

/** The one-line entry the updater writes for a repository base URI. */
export const aptSourceLine = (base: string, keyring: string): string =>
  `deb [arch=amd64 signed-by=${keyring}] ${aptRepositoryUri(base)} serveragent main\n`

export const aptRepositoryUri = (base: string): string => `${base.replace(/\/+$/, "")}/debian/`

export const AGENT_SUITE = "serveragent"

/** A repository URI without its scheme and trailing slashes: `http://` and `https://` of one host and path name one repository. */
const repositoryIdentity = (uri: string): string | undefined => {
  try {
    const url = new URL(uri)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    return `${url.host}${url.pathname.replace(/\/+$/, "")}`
  } catch {
    return undefined
  }
}

const lines = (text: string): ReadonlyArray<string> => text.split(/\r?\n/)

export const parseOneLineSources = (text: string): ReadonlyArray<AptEntry> => {
  const entries: Array<AptEntry> = []
  for (const raw of lines(text)) {
    const line = raw.replace(/#.*$/, "").trim()
    const match = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line)
    if (match === null) continue
    const options = match[1] ?? ""
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(options)?.[1]
    entries.push({ uri: match[2]!, suite: match[3]!, signedBy })
  }
  return entries
}

/** A deb822 stanza's fields by lower-case name; continuation lines join their field's value on a newline. */
const stanzaFields = (stanza: ReadonlyArray<string>): ReadonlyMap<string, string> => {
  const fields = new Map<string, string>()
  let last: string | undefined
  for (const line of stanza) {
    if (line.startsWith("#")) continue
    if (/^\s/.test(line) && last !== undefined) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`)
      continue
    }
    const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line)
    if (match === null) continue
    last = match[1]!.toLowerCase()
    fields.set(last, match[2]!.trim())
  }
  return fields
}

const words = (value: string | undefined): ReadonlyArray<string> => (value ?? "").split(/\s+/).filter(Boolean)

const isEnabled = (fields: ReadonlyMap<string, string>): boolean => (fields.get("enabled") ?? "yes").toLowerCase() !== "no"

export const parseDeb822Sources = (text: string): ReadonlyArray<AptEntry> => {
  const entries: Array<AptEntry> = []
  for (const stanza of text.replace(/\r\n/g, "\n").split(/\n\s*\n/)) {
    const fields = stanzaFields(stanza.split("\n"))
    if (!words(fields.get("types")).includes("deb") || !isEnabled(fields)) continue
    const field = fields.get("signed-by")
    const signedBy = field?.includes("\n") ? "(inline key)" : field
    for (const uri of words(fields.get("uris"))) {
      for (const suite of words(fields.get("suites"))) {
        entries.push({ uri, suite, signedBy })
      }
    }
  }
  return entries
}

export const parseSources = (fileName: string, text: string): ReadonlyArray<AptEntry> =>
  fileName.endsWith(".sources") ? parseDeb822Sources(text) : parseOneLineSources(text)

/** Whether an entry points at the agent repository under `base`, over http or https alike (a legacy entry). */
export const isAgentEntry = (entry: AptEntry, base: string): boolean => {
  const identity = repositoryIdentity(entry.uri)
  return identity !== undefined && identity === repositoryIdentity(aptRepositoryUri(base)) && entry.suite === AGENT_SUITE
}

/** Checks a downloaded `debian/agentrepo.key`: `undefined` when it is a public key apt can use at `now`, else why not. */
export const aptKeyProblem = (text: string, now: Date): string | undefined => publicKeyProblem(text, now)

/** Whether an entry is the apt source `uri` `suite`: apt tells sources apart by URI (trailing slash aside) and suite. */
export const isSameSource = (entry: AptEntry, uri: string, suite: string): boolean =>
  entry.uri.replace(/\/+$/, "") === uri.replace(/\/+$/, "") && entry.suite === suite

/** A line of a file with its own line end (none for a last line without one). */
interface Line {
  readonly body: string
  readonly end: string
}

const linesOf = (text: string): ReadonlyArray<Line> =>
  text.split(/(?<=\n)/).filter((line) => line !== "").map((line) => {
    const end = line.endsWith("\r\n") ? "\r\n" : line.endsWith("\n") ? "\n" : ""
    return { body: line.slice(0, line.length - end.length), end }
  })

const joinLines = (lines: ReadonlyArray<Line>): string => lines.map((line) => line.body + line.end).join("")

/** A line or stanza after the rewrite, and whether it is the source's entry: unrelated, already naming the keyring, or changed. */
interface Piece {
  readonly text: string
  readonly entry: "unrelated" | "signed" | "changed"
}

const unrelated = (text: string): Either.Either<Piece, string> => Either.right({ text, entry: "unrelated" })

const existingSignedBy = (text: string, signedBy: string, keyring: string): Either.Either<Piece, string> =>
  signedBy === keyring ? Either.right({ text, entry: "signed" }) : Either.left(`its entry uses ${signedBy}`)

/** `arch=amd64` → `arch=amd64 signed-by=K`, the block's own spacing kept. */
const withSignedByOption = (options: string, keyring: string): string => {
  const [, lead, body, trail] = /^(\s*)(.*?)(\s*)$/s.exec(options)!
  return `${lead}${body}${body === "" ? "" : " "}signed-by=${keyring}${trail}`
}

/** One line of a one-line file. A `deb-src` line of the source counts too: apt holds both to one signed-by. */
const oneLinePiece = (line: Line, uri: string, suite: string, keyring: string): Either.Either<Piece, string> => {
  const text = line.body + line.end
  const code = line.body.replace(/#.*$/, "")
  const head = /^(\s*deb(?:-src)?\s+)(?:\[([^\]]*)\](\s*))?/.exec(code)
  const target = head === null ? null : /^(\S+)\s+(\S+)/.exec(code.slice(head[0].length))
  if (head === null || target === null || !isSameSource({ uri: target[1]!, suite: target[2]!, signedBy: undefined }, uri, suite)) {
    return unrelated(text)
  }
  const [prefix, type, options, gap] = head
  const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(options ?? "")?.[1]
  if (signedBy !== undefined) return existingSignedBy(text, signedBy, keyring)
  const block = options === undefined ? `[signed-by=${keyring}] ` : `[${withSignedByOption(options, keyring)}]${gap}`
  return Either.right({ text: `${type}${block}${line.body.slice(prefix.length)}${line.end}`, entry: "changed" })
}

/** Consecutive blank and non-blank lines: the stanzas of a deb822 file and what separates them. */
const stanzasOf = (text: string): ReadonlyArray<ReadonlyArray<Line>> =>
  linesOf(text).reduce<Array<Array<Line>>>((groups, line) => {
    const last = groups.at(-1)
    const blank = line.body.trim() === ""
    if (last !== undefined && (last[0]!.body.trim() === "") === blank) last.push(line)
    else groups.push([line])
    return groups
  }, [])

/** One stanza (or run of blank lines) of a deb822 file; `Signed-By` goes last, with the stanza's own line end. */
const deb822Piece = (stanza: ReadonlyArray<Line>, uri: string, suite: string, keyring: string): Either.Either<Piece, string> => {
  const text = joinLines(stanza)
  const fields = stanzaFields(stanza.map((line) => line.body))
  const types = words(fields.get("types"))
  const uris = words(fields.get("uris"))
  const suites = words(fields.get("suites"))
  const ofSource = uris.some((u) => suites.some((s) => isSameSource({ uri: u, suite: s, signedBy: undefined }, uri, suite)))
  if (!ofSource || !isEnabled(fields) || !types.some((type) => type === "deb" || type === "deb-src")) return unrelated(text)
  const signedBy = fields.get("signed-by")
  if (signedBy !== undefined) return existingSignedBy(text, signedBy.includes("\n") ? "an inline key" : signedBy, keyring)
  if (uris.length > 1 || suites.length > 1) {
    return Either.left("its stanza names other repositories or suites as well")
  }
  const end = stanza[0]!.end === "" ? "\n" : stanza[0]!.end
  const last = stanza.at(-1)!
  const closed = last.end === "" ? `${text}${end}Signed-By: ${keyring}` : `${text}Signed-By: ${keyring}${last.end}`
  return Either.right({ text: closed, entry: "changed" })
}

/**
 * The sources file `text` (deb822 when `fileName` ends in `.sources`) with the entry for `uri`
 * `suite` naming `keyring`, every other line, comment and stanza byte for byte as it was; or why
 * not: no such entry, an entry naming another keyring, a stanza shared with other sources.
 */
export const withSignedBy = (
  fileName: string,
  text: string,
  uri: string,
  suite: string,
  keyring: string
): Either.Either<string, string> =>
  Either.flatMap(
    Either.all(
      fileName.endsWith(".sources")
        ? stanzasOf(text).map((stanza) => deb822Piece(stanza, uri, suite, keyring))
        : linesOf(text).map((line) => oneLinePiece(line, uri, suite, keyring))
    ),
    (pieces) =>
      pieces.some((piece) => piece.entry !== "unrelated")
        ? Either.right(pieces.map((piece) => piece.text).join(""))
        : Either.left(`it holds no entry for ${uri} ${suite}`)
  )
