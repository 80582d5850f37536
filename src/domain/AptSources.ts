/**
 * Finds an apt source entry for the agent repository in one-line (`.list`) or
 * deb822 (`.sources`) files, so that an existing entry is never added twice.
 */
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

export const parseDeb822Sources = (text: string): ReadonlyArray<AptEntry> => {
  const entries: Array<AptEntry> = []
  for (const stanza of text.replace(/\r\n/g, "\n").split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let last: string | undefined
    for (const line of stanza.split("\n")) {
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
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue
    const field = fields.get("signed-by")
    const signedBy = field?.includes("\n") ? "(inline key)" : field
    for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.get("suites") ?? "").split(/\s+/).filter(Boolean)) {
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
