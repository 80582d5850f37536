/**
 * The administrator's holds on the agent in the files of dnf and yum: the
 * versionlock plugin's list (and dnf5's TOML), and the `exclude` settings of `[main]`.
 */
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "./Agent.js"

/** A shell-style glob (`*`, `?`, `[...]`) as an anchored regular expression. */
const globToRegExp = (glob: string): RegExp => {
  let source = ""
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === "*") source += ".*"
    else if (char === "?") source += "."
    else if (char === "[") {
      const end = glob.indexOf("]", i + 1)
      if (end === -1) source += "\\["
      else {
        source += `[${glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`
        i = end
      }
    } else source += char.replace(/[.+^${}()|\\]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

/**
 * Whether a package spec names the agent: `driveclient`, `driveclient*`,
 * `driveclient-0:1.1.0-1.el9.*` (dnf), `0:driveclient-1.1.0-1.el7.*` (yum),
 * `driveclient.x86_64`, or a glob that matches the name (`drive*`). A leading
 * `!` (an excluded version) names it too.
 */
export const specNamesAgent = (spec: string): boolean => {
  const withoutMarks = spec.trim().replace(/^!/, "").replace(/^(?:\d+|\*):/, "")
  if (withoutMarks === "") return false
  // The name ends where a version begins: a dash before a digit, an epoch or a glob.
  const name = /^(.+?)-(?:\d+:|\d|\*|\?|\[)/.exec(withoutMarks)?.[1] ?? withoutMarks
  const candidates = [name, name.replace(/\.(?:[a-z0-9_]+|\*)$/, "")]
  return candidates.some((candidate) => globToRegExp(candidate).test(AGENT_PACKAGE))
}

/** Whether a versionlock list (one spec a line, `#` comments) has an entry naming the agent. */
export const versionlockListNamesAgent = (text: string): boolean =>
  text.split("\n").some((line) => {
    const entry = line.trim()
    return entry !== "" && !entry.startsWith("#") && specNamesAgent(entry)
  })

/** Whether dnf5's versionlock.toml has a `[[packages]]` entry whose `name` is the agent's. */
export const versionlockTomlNamesAgent = (text: string): boolean =>
  text.split("\n").some((line) => {
    const name = /^\s*name\s*=\s*(["'])(.*)\1\s*(?:#.*)?$/.exec(line)?.[2]
    return name !== undefined && globToRegExp(name).test(AGENT_PACKAGE)
  })

/** The values of `key` in one section of an INI file, continuation lines included. */
const iniValues = (text: string, section: string, keys: ReadonlyArray<string>): ReadonlyArray<string> => {
  const values: Array<string> = []
  let current: string | undefined
  let collecting = false
  for (const line of text.split("\n")) {
    if (/^\s*[#;]/.test(line)) continue
    const header = /^\s*\[([^\]]+)\]/.exec(line)
    if (header !== null) {
      current = header[1]!.trim()
      collecting = false
      continue
    }
    if (/^\s/.test(line) && line.trim() !== "") {
      if (collecting) values.push(line.trim())
      continue
    }
    const assignment = /^([A-Za-z0-9_.-]+)\s*[+-]?=\s*(.*)$/.exec(line.trim())
    collecting = assignment !== null && current === section && keys.includes(assignment[1]!.toLowerCase())
    if (collecting) values.push(assignment![2]!)
  }
  return values
}

/** Whether `[main]` excludes the agent (`exclude=`, dnf's `excludepkgs=`; comma or space separated). */
export const mainConfExcludesAgent = (text: string): boolean =>
  iniValues(text, "main", ["exclude", "excludepkgs"])
    .flatMap((value) => value.split(/[\s,]+/))
    .some((spec) => spec !== "" && specNamesAgent(spec))

/** The `locklist=` of the versionlock plugin's configuration, if it sets one. */
export const versionlockListPath = (conf: string): Option.Option<string> =>
  Option.fromNullable(iniValues(conf, "main", ["locklist"]).at(-1)?.trim()).pipe(
    Option.filter((path) => path.startsWith("/"))
  )
