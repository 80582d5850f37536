/**
 * Whether the administrator holds the agent on a dnf or yum host, read from the
 * files themselves — the versionlock plugin's list and the `exclude` settings —
 * rather than by running the plugin, which may not be installed.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { mainConfExcludesAgent, versionlockListNamesAgent, versionlockListPath, versionlockTomlNamesAgent } from "../../../domain/RpmHoldFiles.js"
import { type HostFileError, readTextIfExists, underRoot } from "../../internal/HostFiles.js"

export type RpmHoldFlavor = "dnf" | "yum"

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
