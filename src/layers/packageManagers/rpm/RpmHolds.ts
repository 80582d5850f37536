/**
 * Whether the administrator holds the agent on a dnf or yum host, read from the
 * files themselves — the versionlock plugin's list and the `exclude` settings —
 * rather than by running the plugin, which may not be installed.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type HostFileError, readTextIfExists, underRoot } from "../../internal/HostFiles.js"

export type RpmHoldFlavor = "dnf" | "yum"

const AGENT_PACKAGE = "driveclient"

interface HoldFiles {
  /** The versionlock plugin's configuration, which may move the list (`locklist=`). */
  readonly versionlockConf: string
  readonly versionlockList: string
  /** dnf5 keeps its locks in TOML. */
  readonly versionlockToml: Option.Option<string>
  /** The main configuration, whose `[main]` may exclude the agent. */
  readonly mainConf: string
}

export const holdFiles: Readonly<Record<RpmHoldFlavor, HoldFiles>> = {
  dnf: {
    versionlockConf: "/etc/dnf/plugins/versionlock.conf",
    versionlockList: "/etc/dnf/plugins/versionlock.list",
    versionlockToml: Option.some("/etc/dnf/versionlock.toml"),
    mainConf: "/etc/dnf/dnf.conf"
  },
  yum: {
    versionlockConf: "/etc/yum/pluginconf.d/versionlock.conf",
    versionlockList: "/etc/yum/pluginconf.d/versionlock.list",
    versionlockToml: Option.none(),
    mainConf: "/etc/yum.conf"
  }
}

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

/** Whether the agent is held on this host; missing files hold nothing. */
export const isAgentHeld = (root: string, flavor: RpmHoldFlavor): Effect.Effect<boolean, HostFileError> =>
  Effect.gen(function*() {
    const files = holdFiles[flavor]
    const read = (hostPath: string) => readTextIfExists(underRoot(root, hostPath))
    const conf = yield* read(files.versionlockConf)
    const listPath = Option.flatMap(conf, versionlockListPath).pipe(Option.getOrElse(() => files.versionlockList))
    if (Option.exists(yield* read(listPath), versionlockListNamesAgent)) return true
    if (Option.isSome(files.versionlockToml)) {
      if (Option.exists(yield* read(files.versionlockToml.value), versionlockTomlNamesAgent)) return true
    }
    return Option.exists(yield* read(files.mainConf), mainConfExcludesAgent)
  })
