/** The agent as the rpm database has it: every installed version (two after an interrupted upgrade). */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AGENT_PACKAGE } from "../../../domain/Agent.js"
import { rpmSaysNotInstalled } from "../../../domain/RpmToolMessages.js"
import { newestRpmVersion, versionsIn } from "../../../domain/RpmVersions.js"
import type { InstalledAgent } from "../../../services/PackageManager.js"
import { type PackageCommands, QUERY_TIMEOUT } from "../../internal/PackageCommands.js"

/** Every installed version of the agent, from `rpm -q`; none when it is not installed. */
export const installedVersions = (commands: PackageCommands) =>
  commands.runAccepting(
    "rpm -q",
    ["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", AGENT_PACKAGE],
    QUERY_TIMEOUT,
    (result) => rpmSaysNotInstalled(result.stdout + result.stderr)
  ).pipe(Effect.map((result) => (result.exitCode === 0 ? versionsIn(result.stdout) : [])))

/** The newest installed version, unfinished when another is installed beside it. */
export const installedAgentOf = (versions: ReadonlyArray<string>): Option.Option<InstalledAgent> =>
  Option.map(newestRpmVersion(versions), (version) => ({ version, unfinished: versions.length > 1 }))
