/**
 * The repository policy for a downloaded `redhat/drivesrvr.repo`, checked before it is
 * written to `/etc/yum.repos.d` or `/etc/zypp/repos.d` as root: one `[drivesrvr]` section,
 * keys from an allow-list, signed packages, every URL over https.
 */
import * as Either from "effect/Either"

export const YUM_REPO_SECTION = "drivesrvr"

/**
 * The keys a vendor's repo file may set. Left out on purpose: `priority` and `cost` (outrank the
 * distribution's own repositories), `module_hotfixes`, `includepkgs`/`excludepkgs` (change what
 * other repositories offer), `sslcacert`, `sslclientcert`, `proxy`, `username`, `password` (the
 * host's trust and credentials are the administrator's), and anything unknown.
 */
export const ALLOWED_REPO_KEYS: ReadonlyArray<string> = [
  "name",
  "baseurl",
  "mirrorlist",
  "metalink",
  "enabled",
  "gpgcheck",
  "repo_gpgcheck",
  "pkg_gpgcheck",
  "gpgkey",
  "sslverify",
  "type",
  "autorefresh",
  "metadata_expire",
  "skip_if_unavailable",
  "failovermethod"
]

/** Checks that may be on or left out, never turned off. */
const NEVER_OFF = ["gpgcheck", "repo_gpgcheck", "pkg_gpgcheck", "sslverify"]
const URL_KEYS = ["baseurl", "mirrorlist", "metalink", "gpgkey"]
const TRUE_VALUES = new Set(["1", "yes", "true", "on"])
const FALSE_VALUES = new Set(["0", "no", "false", "off"])

export interface RepoSection {
  readonly name: string
  /** Keys in lower case; a multi-line value's lines joined by a newline. */
  readonly values: ReadonlyMap<string, string>
}

/**
 * The sections of an ini-style repo file as dnf's and yum's parsers read it: `#` and `;` comment
 * lines, `key=value` lines, values continued on lines that start with blank space, CRLF or LF.
 * A key twice in a section, or a section twice, is refused: parsers disagree on which one wins.
 */
export const parseRepoFile = (text: string): Either.Either<ReadonlyArray<RepoSection>, string> => {
  const sections: Array<{ name: string; values: Map<string, string> }> = []
  let lastKey: string | undefined
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const where = `line ${index + 1}`
    const line = raw.trim()
    const current = sections.at(-1)
    if (line === "") {
      lastKey = undefined
      continue
    }
    if (line.startsWith("#") || line.startsWith(";")) continue
    if (/^[ \t]/.test(raw) && current !== undefined && lastKey !== undefined) {
      current.values.set(lastKey, `${current.values.get(lastKey)}\n${line}`)
      continue
    }
    const section = /^\[([^\]]+)\]$/.exec(raw.trimEnd())
    if (section !== null) {
      const name = section[1]!.trim()
      if (sections.some((known) => known.name === name)) return Either.left(`${where}: the section [${name}] appears twice`)
      sections.push({ name, values: new Map() })
      lastKey = undefined
      continue
    }
    const pair = /^([A-Za-z0-9_.-]+)[ \t]*=[ \t]*(.*)$/.exec(raw.trimEnd())
    if (pair === null || current === undefined) return Either.left(`${where} is not a repo file line`)
    const key = pair[1]!.toLowerCase()
    if (current.values.has(key)) return Either.left(`${where}: ${key} appears twice in [${current.name}]`)
    current.values.set(key, pair[2]!)
    lastKey = key
  }
  return Either.right(sections)
}

/** The URLs of a list-valued key: separated by blank space, commas or line ends. */
const urlsOf = (value: string): ReadonlyArray<string> => value.split(/[\s,]+/).filter(Boolean)

/**
 * `undefined` when the text may be written as the agent's repo file, else why not, in one line.
 * Plain http URLs are accepted only when the repository base (`-r`) is itself plain http.
 */
export const yumRepoProblem = (text: string, base: string): string | undefined => {
  if (text.trim().length === 0) return "the repo file is empty"
  return Either.match(parseRepoFile(text), {
    onLeft: (problem) => problem,
    onRight: (sections) => sectionsProblem(sections, base.startsWith("http://"))
  })
}

const sectionsProblem = (sections: ReadonlyArray<RepoSection>, plainHttpAllowed: boolean): string | undefined => {
  const agent = sections.find((section) => section.name === YUM_REPO_SECTION)
  if (agent === undefined) return `no [${YUM_REPO_SECTION}] section`
  const other = sections.find((section) => section !== agent)
  if (other !== undefined) return `a second section [${other.name}]: the repo file may define only [${YUM_REPO_SECTION}]`
  const { values } = agent
  const where = `the [${YUM_REPO_SECTION}] section`
  const refused = [...values.keys()].find((key) => !ALLOWED_REPO_KEYS.includes(key))
  if (refused !== undefined) return `${where} may not set ${refused} (allowed: ${ALLOWED_REPO_KEYS.join(", ")})`
  if (!["baseurl", "mirrorlist", "metalink"].some((key) => (values.get(key) ?? "") !== "")) return `${where} has no baseurl`
  for (const key of NEVER_OFF) {
    const value = values.get(key)?.trim().toLowerCase()
    if (value === undefined) continue
    if (FALSE_VALUES.has(value)) return `${where} turns ${key} off`
    if (!TRUE_VALUES.has(value)) return `${where} has ${key}=${value}, not 1`
  }
  if (values.get("gpgcheck") === undefined) return `${where} has no gpgcheck=1`
  if (urlsOf(values.get("gpgkey") ?? "").length === 0) return `${where} names no gpgkey`
  for (const key of URL_KEYS) {
    for (const url of urlsOf(values.get(key) ?? "")) {
      if (url.startsWith("https://")) continue
      if (plainHttpAllowed && url.startsWith("http://")) continue
      return `${where} has ${key} ${oneLine(url)}, not https://${plainHttpAllowed ? " or http://" : ""}`
    }
  }
  return undefined
}

const oneLine = (text: string): string => {
  const printable = text.replace(/[^\x20-\x7e]/g, "?")
  return printable.length > 80 ? `${printable.slice(0, 80)}…` : printable
}

/** Whether an installed repo file already defines the agent repository. */
export const definesAgentRepository = (text: string): boolean =>
  text.split("\n").some((line) => line.trim() === `[${YUM_REPO_SECTION}]`)

/** The `gpgkey=` URLs of the `[drivesrvr]` section: several may be listed, split by blank space, commas or continuation lines. */
export const agentRepositoryKeys = (text: string): ReadonlyArray<string> =>
  Either.match(parseRepoFile(text), {
    onLeft: () => [],
    onRight: (sections) => urlsOf(sections.find((section) => section.name === YUM_REPO_SECTION)?.values.get("gpgkey") ?? "")
  })
