/**
 * The agent repository as a `.repo` file in a repository directory (`/etc/yum.repos.d`,
 * `/etc/zypp/repos.d`): found in any file that defines `[drivesrvr]`, written as
 * `drivesrvr.repo` only after the downloaded file has been checked.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { definesAgentRepository, YUM_REPO_SECTION, yumRepoProblem } from "../../../domain/YumRepoFile.js"
import { PackageManagerError } from "../../../services/PackageManager.js"
import { listDirectoryIfExists, makeDirectory, readTextIfExists, underRoot, writeFileAtomically } from "../../internal/HostFiles.js"
import { fileFailure } from "../../internal/PackageCommands.js"

export const repoFiles = (root: string, reposDir: string, tool: string, base: string) => {
  const agentRepoFile = `${reposDir}/${YUM_REPO_SECTION}.repo`

  /** The repo file that defines the agent repository, if one does. */
  const find = Effect.gen(function*() {
    const names = yield* listDirectoryIfExists(underRoot(root, reposDir))
    for (const name of names.filter((entry) => entry.endsWith(".repo"))) {
      const file = `${reposDir}/${name}`
      const text = yield* readTextIfExists(underRoot(root, file))
      if (Option.isSome(text) && definesAgentRepository(text.value)) return Option.some(file)
    }
    return Option.none<string>()
  }).pipe(Effect.mapError(fileFailure(`read the ${tool} repositories`)))

  /** Writes `content` as the agent's repo file, unless another file defines the repository already. */
  const configure = (content: string) =>
    Effect.gen(function*() {
      const operation = `configure the ${tool} repository`
      const problem = yumRepoProblem(content, base)
      if (problem !== undefined) return yield* new PackageManagerError({ operation, detail: problem })
      // A second [drivesrvr] definition would make the package manager complain on every run.
      const existing = yield* find
      if (Option.isSome(existing) && existing.value !== agentRepoFile) return
      yield* Effect.zipRight(
        makeDirectory(underRoot(root, reposDir), 0o755),
        writeFileAtomically(underRoot(root, agentRepoFile), content, 0o644)
      ).pipe(Effect.mapError(fileFailure(operation)))
    })

  return { agentRepoFile, find, configure }
}
