/**
 * Finds an apt source entry for the agent repository in one-line (`.list`) or
 * deb822 (`.sources`) files, so that an existing entry is never added twice.
 */

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

const normalizeUri = (uri: string): string => uri.replace(/\/+$/, "")

export const parseOneLineSources = (text: string): ReadonlyArray<AptEntry> => {
  const entries: Array<AptEntry> = []
  for (const raw of text.split("\n")) {
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
  for (const stanza of text.split(/\n\s*\n/)) {
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

/** Whether an entry points at the agent repository under `base`. */
export const isAgentEntry = (entry: AptEntry, base: string): boolean =>
  normalizeUri(entry.uri) === normalizeUri(aptRepositoryUri(base)) && entry.suite === AGENT_SUITE

const ARMORED_KEY = /^-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n[\s\S]*\r?\n-----END PGP PUBLIC KEY BLOCK-----\s*$/

/** Checks a downloaded `debian/agentrepo.key`; `undefined` when it is an armoured public key. */
export const aptKeyProblem = (text: string): string | undefined =>
  ARMORED_KEY.test(text.trimStart()) ? undefined : "not an ASCII-armoured OpenPGP public key"
