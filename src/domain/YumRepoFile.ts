/** Checks a downloaded `redhat/drivesrvr.repo` before it may be written to `/etc/yum.repos.d`. */

export const YUM_REPO_SECTION = "drivesrvr"

/** `undefined` when the text is a repo file with a usable `[drivesrvr]` section, else why not. */
export const yumRepoProblem = (text: string): string | undefined => {
  if (text.trim().length === 0) return "the repo file is empty"
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | undefined
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    const section = /^\[([^\]]+)\]$/.exec(line)
    if (section !== null) {
      current = new Map()
      sections.set(section[1]!.trim(), current)
      continue
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line)
    if (pair === null || current === undefined) {
      return `line ${index + 1} is not a repo file line`
    }
    current.set(pair[1]!.toLowerCase(), pair[2]!)
  }
  const agent = sections.get(YUM_REPO_SECTION)
  if (agent === undefined) return `no [${YUM_REPO_SECTION}] section`
  if (!["baseurl", "mirrorlist", "metalink"].some((key) => (agent.get(key) ?? "") !== "")) {
    return `the [${YUM_REPO_SECTION}] section has no baseurl`
  }
  return undefined
}

/** Whether an installed repo file already defines the agent repository. */
export const definesAgentRepository = (text: string): boolean =>
  text.split("\n").some((line) => line.trim() === `[${YUM_REPO_SECTION}]`)

/** The `gpgkey=` URLs of the `[drivesrvr]` section (several may be listed, split by spaces or commas). */
export const agentRepositoryKeys = (text: string): ReadonlyArray<string> => {
  let inAgent = false
  const keys: Array<string> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    const section = /^\[([^\]]+)\]$/.exec(line)
    if (section !== null) {
      inAgent = section[1]!.trim() === YUM_REPO_SECTION
      continue
    }
    const pair = /^gpgkey\s*=\s*(.*)$/i.exec(line)
    if (inAgent && pair !== null) keys.push(...pair[1]!.split(/[\s,]+/).filter(Boolean))
  }
  return keys
}
