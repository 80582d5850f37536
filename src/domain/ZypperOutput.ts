/**
 * What the updater reads from zypper (`--xmlout`): the agent versions a repository
 * offers, the administrator's locks, and the exit statuses that are answers, not
 * failures. See zypper(8), "EXIT CODES".
 */
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "./Agent.js"
import { isRpmVersion, newestRpmVersion } from "./RpmVersions.js"

/** `refresh` of a repository that could not be reached or verified; a solver problem. */
export const ZYPPER_EXIT_ERR_ZYPP = 4
/** A command that found no package (`search`, `install` of an unknown version). */
export const ZYPPER_EXIT_NOT_FOUND = 104
/** The transaction succeeded, but a repository could not be refreshed and was skipped. */
export const ZYPPER_EXIT_REPOS_SKIPPED = 106
/** The packages are installed, but a scriptlet (`%post`) failed. */
export const ZYPPER_EXIT_RPM_SCRIPT_FAILED = 107

const unescape = (text: string) =>
  text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&amp;/g, "&")

/** The attributes of one XML start tag. */
const attributes = (tag: string): ReadonlyMap<string, string> =>
  new Map([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, unescape(m[2]!)]))

/** `1:1.2.0-1.el9` → `1.2.0-1.el9`: rpm -q prints no epoch, and neither does the updater. */
const withoutEpoch = (edition: string) => edition.replace(/^\d+:/, "")

/** The agent versions listed by `zypper --xmlout search --details --match-exact … driveclient`. */
export const searchedVersions = (xml: string): ReadonlyArray<string> =>
  [...xml.matchAll(/<solvable\b[^>]*>/g)].flatMap(([tag]) => {
    const fields = attributes(tag)
    const edition = withoutEpoch(fields.get("edition") ?? "")
    return fields.get("name") === AGENT_PACKAGE && (fields.get("kind") ?? "package") === "package" && isRpmVersion(edition)
      ? [edition]
      : []
  })

/** The newest agent version a search found. */
export const searchCandidate = (xml: string): Option.Option<string> => newestRpmVersion(searchedVersions(xml))

/** A shell-style glob (`*`, `?`, `[…]`) as zypper matches lock names, whole-name. */
const globMatches = (glob: string, name: string): boolean => {
  const pattern = glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")
  try {
    return new RegExp(`^${pattern}$`).test(name)
  } catch {
    return glob === name
  }
}

/** Whether `zypper --xmlout locks` lists a package lock whose name matches the agent's. */
export const locksHoldAgent = (xml: string): boolean =>
  [...xml.matchAll(/<lock\b[^>]*>([\s\S]*?)<\/lock>/g)].some(([, body]) => {
    const name = /<name>([^<]*)<\/name>/.exec(body!)
    const type = /<type>([^<]*)<\/type>/.exec(body!)
    return name !== null && (type === null || unescape(type[1]!).trim() === "package") &&
      globMatches(unescape(name[1]!).trim(), AGENT_PACKAGE)
  })

/** zypper's closing lines, which only point back at the error above them. */
const GENERIC_LINES = [
  /^Please see the above error message for a hint\.$/,
  /^Installation has been aborted as directed\.$/,
  /^Problem occurred during or after installation or removal of packages:$/,
  /^Skipping repository .* because of the above error\.$/,
  /^Could not refresh the repositories because of errors\.$/,
  /^Some of the repositories have not been refreshed because/,
  /^Close this application before trying again\.$/,
  /^Use 'zypper repos' to get the list of defined repositories\.$/
]

/**
 * The line that says why a zypper command failed: its summarised `Error: …` line, else the last
 * line of its error output that is not a pointer back at it; zypper prints hints on stdout.
 */
export const zypperFailureLine = (result: { readonly stdout: string; readonly stderr: string; readonly exitCode: number }) => {
  const lines = (text: string) => text.split("\n").map((line) => line.trim()).filter(Boolean)
  const telling = lines(result.stderr).filter((line) => !GENERIC_LINES.some((generic) => generic.test(line)))
  return telling.filter((line) => /^Error: /.test(line)).at(-1) ?? telling.at(-1) ??
    lines(result.stdout).filter((line) => !GENERIC_LINES.some((generic) => generic.test(line))).at(-1) ??
    `exit status ${result.exitCode}`
}

const trimmedLines = (text: string) => text.split("\n").map((line) => line.trim()).filter(Boolean)

/**
 * zypper's line when `refresh` failed (exit 4) because the metadata of the repository `alias`
 * did not verify: signed with a key that is not in the rpm database, or a signature that fails.
 * Undefined for any other failure: an unreachable server, an unsigned repository, another repository.
 */
export const zypperKeyErrorLine = (
  result: { readonly stdout: string; readonly stderr: string; readonly exitCode: number },
  alias: string
): string | undefined => {
  if (result.exitCode !== ZYPPER_EXIT_ERR_ZYPP) return undefined
  const stderr = trimmedLines(result.stderr)
  const names = stderr.some((line) => line.startsWith(`[${alias}|`))
  const signatureFailed = stderr.some((line) => /^(- )?Signature verification failed for /.test(line))
  // An unsigned repomd.xml fails the same way, and no key fetched again would help.
  if (!names || !signatureFailed || /\bis unsigned\b/.test(result.stdout)) return undefined
  const unknownKey = trimmedLines(result.stdout)
    .map((line) => /(File '[^']*' from repository '.*' is signed with an unknown key '[0-9A-Fa-f]+'\.)/.exec(line)?.[1])
    .find((line) => line !== undefined)
  return unknownKey ?? stderr.find((line) => /Signature verification failed for /.test(line))!.replace(/^- /, "")
}
