/**
 * One update pass, in the contract's order: read the published version, make sure
 * the repository is configured and the agent installed, and upgrade an old agent
 * without interrupting a backup or leaving it stopped.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export type PassOutcome = Data.TaggedEnum<{
  UpToDate: { readonly installed: string; readonly published: string }
  Installed: { readonly version: string }
  Upgraded: { readonly from: string; readonly to: string; readonly agentWasRunning: boolean }
  NotOffered: { readonly installed: string; readonly published: string; readonly candidate: string | undefined }
  /** A check that does not upgrade found the agent older than the published version. */
  Behind: { readonly installed: string; readonly published: string }
}>
export const PassOutcome = Data.taggedEnum<PassOutcome>()

export const ensureRepository = Effect.gen(function*() {
  const packages = yield* PackageManager
  const repository = yield* Repository
  const state = yield* packages.repositoryState(repository.base)
  if (state._tag === "Configured") {
    yield* Effect.logDebug(`agent repository is configured in ${state.file}`)
    return
  }
  yield* Effect.logInfo(`configuring the agent repository ${repository.base}`)
  const source = packages.kind === "apt"
    ? { _tag: "AptKey" as const, key: yield* repository.aptKey }
    : { _tag: "YumRepoFile" as const, content: yield* repository.yumRepoFile }
  yield* packages.configureRepository(repository.base, source)
})

/** A package transaction runs to its end once started: interrupting it could break the package database. */
const transaction = Effect.gen(function*() {
  const packages = yield* PackageManager
  yield* Effect.uninterruptible(packages.install)
  return yield* packages.installedVersion.pipe(
    Effect.map(Option.getOrElse(() => "(none)"))
  )
})

const installAgent = Effect.gen(function*() {
  const packages = yield* PackageManager
  yield* Effect.logInfo("the agent is not installed; installing it")
  yield* packages.refresh((yield* Repository).base)
  const version = yield* transaction
  yield* Effect.logInfo(`installed the agent ${version}`)
  return PassOutcome.Installed({ version })
})

/** Starts the agent again after a failed or interrupted upgrade, if it is not running. */
const restoreRunning = Effect.gen(function*() {
  const agent = yield* AgentService
  if (yield* agent.isRunning) return
  yield* Effect.logWarning("starting the agent again after the failed upgrade")
  yield* agent.start
}).pipe(Effect.catchAll((error) => Effect.logError(`the agent could not be started again: ${error.message}`)))

const upgradeRunningAgent = Effect.gen(function*() {
  const packages = yield* PackageManager
  const agent = yield* AgentService
  const config = yield* UpdaterConfig
  yield* Effect.logInfo("downloading the new agent while the old one keeps running")
  yield* packages.download
  yield* FileLock.acquireScoped(config.agentLock, {
    poll: config.lockPoll,
    onWait: (pid) =>
      Effect.logInfo(`the agent is busy (${config.agentLock} held by pid ${pid ?? "?"}); waiting for it to finish`)
  })
  yield* Effect.logInfo("stopping the agent")
  yield* agent.stop
  const version = yield* transaction
  yield* Effect.logInfo("starting the agent")
  yield* agent.start
  return version
}).pipe(
  Effect.scoped,
  Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : restoreRunning))
)

const upgradeAgent = (installed: string, published: string) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    yield* Effect.logInfo(`the agent ${installed} is older than the published ${published}`)
    yield* packages.refresh((yield* Repository).base)
    const candidate = yield* packages.candidateVersion
    if (Option.isNone(candidate) || isUpToDate(installed, upstreamOf(candidate.value))) {
      yield* Effect.logWarning(
        `the repository offers ${Option.getOrElse(candidate, () => "no agent")}, not ${published}; nothing to do`
      )
      return PassOutcome.NotOffered({ installed, published, candidate: Option.getOrUndefined(candidate) })
    }
    const running = yield* agent.isRunning
    const version = running
      ? yield* upgradeRunningAgent
      : yield* Effect.zipRight(Effect.logInfo("the agent is not running; upgrading it"), transaction)
    yield* Effect.logInfo(`upgraded the agent from ${installed} to ${version}`)
    return PassOutcome.Upgraded({ from: installed, to: version, agentWasRunning: running })
  })

export interface PassOptions {
  /** Upgrade an old agent; when false, the pass reports `Behind` instead (the daemon's rollout delay). */
  readonly upgrade: boolean
}

export const pass = (options: PassOptions) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const repository = yield* Repository
    const packages = yield* PackageManager
    yield* FileLock.acquireScoped(config.passLock, {
      poll: config.lockPoll,
      onWait: (pid) => Effect.logInfo(`another update pass (pid ${pid ?? "?"}) is running; waiting for it`)
    })
    const published = yield* repository.latestVersion
    yield* Effect.logDebug(`${repository.base}/version.txt names ${published}`)
    yield* ensureRepository
    const installed = yield* packages.installedVersion
    if (Option.isNone(installed)) return yield* installAgent
    if (isUpToDate(installed.value, published)) {
      yield* Effect.logInfo(`the agent ${installed.value} is up to date (published: ${published})`)
      return PassOutcome.UpToDate({ installed: installed.value, published })
    }
    if (!options.upgrade) return PassOutcome.Behind({ installed: installed.value, published })
    return yield* upgradeAgent(installed.value, published)
  }).pipe(Effect.scoped)

export const updatePass = pass({ upgrade: true })
