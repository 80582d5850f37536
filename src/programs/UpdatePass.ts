/**
 * One update pass, in the contract's order: read the published version, make sure
 * the repository is configured and the agent installed, and upgrade an old agent
 * without interrupting a backup or leaving it stopped.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { compareUpstream, isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { ShutdownInhibitor } from "../services/ShutdownInhibitor.js"
import { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { holdAgentLock } from "./AgentLock.js"
import { isUpdater } from "./Pidfile.js"
import { rollBackUnlessHealthy } from "./HealthCheck.js"
import { clearJournal, journalStep, recoverInterruptedUpgrade } from "./Recovery.js"

export type PassOutcome = Data.TaggedEnum<{
  UpToDate: { readonly installed: string; readonly published: string }
  Installed: { readonly version: string }
  Upgraded: { readonly from: string; readonly to: string; readonly agentWasRunning: boolean }
  NotOffered: { readonly installed: string; readonly published: string; readonly candidate: string | undefined }
  /** A check that does not upgrade found the agent older than the published version. */
  Behind: { readonly installed: string; readonly published: string }
  /** The agent is older, but the administrator or an earlier failure says to leave it. */
  Skipped: { readonly installed: string; readonly published: string; readonly reason: string }
}>
export const PassOutcome = Data.taggedEnum<PassOutcome>()

export const describeOutcome = PassOutcome.$match({
  UpToDate: ({ installed }) => `up to date (${installed})`,
  Installed: ({ version }) => `installed ${version}`,
  Upgraded: ({ from, to }) => `upgraded ${from} to ${to}`,
  NotOffered: ({ candidate, published }) => `${published} is published but the repository offers ${candidate ?? "no agent"}`,
  Behind: ({ installed, published }) => `${installed} is older than ${published}; upgrade planned`,
  Skipped: ({ reason }) => `left alone: ${reason}`
})

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
export const transaction = Effect.gen(function*() {
  const packages = yield* PackageManager
  yield* Effect.uninterruptible(packages.install)
  return yield* packages.installedVersion.pipe(Effect.map(Option.getOrElse(() => "(none)")))
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

const upgradeRunningAgent = (previous: string, target: string) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    const step = journalStep({ previous, target, agentWasRunning: true })
    yield* step("download", false)
    yield* Effect.logInfo("downloading the new agent while the old one keeps running")
    yield* packages.download
    yield* step("lock", false)
    yield* holdAgentLock
    yield* (yield* ShutdownInhibitor).hold("the backup agent is being upgraded")
    yield* step("stop", true)
    yield* Effect.logInfo("stopping the agent")
    yield* agent.stop
    yield* step("transaction", true)
    const version = yield* transaction
    yield* step("start", true)
    yield* Effect.logInfo("starting the agent")
    yield* agent.start
    if (!(yield* UpdaterConfig).dryRun) {
      yield* step("health-check", true)
      yield* rollBackUnlessHealthy({ previous, target: version, step })
    }
    return version
  }).pipe(
    Effect.scoped,
    Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : restoreRunning))
  )

/** Why an old agent is to be left as it is, if it is. */
const reasonToLeaveAlone = (published: string) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    const agent = yield* AgentService
    const { failedVersion } = yield* (yield* StateStore).get
    if (yield* packages.isHeld) return Option.some("the administrator holds the driveclient package at its version")
    if (failedVersion !== undefined && compareUpstream(published, failedVersion.version) <= 0) {
      return Option.some(
        `${failedVersion.version} did not stay running and was rolled back (${failedVersion.reason}); waiting for a newer version`
      )
    }
    if (!(yield* agent.isEnabled) && !(yield* agent.isRunning)) {
      return Option.some("the agent's service is disabled and the agent is stopped")
    }
    return Option.none<string>()
  })

const upgradeAgent = (installed: string, published: string) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    const agent = yield* AgentService
    yield* Effect.logInfo(`the agent ${installed} is older than the published ${published}`)
    yield* packages.refresh((yield* Repository).base)
    const offered = yield* packages.candidateVersion
    // A dry run does not refresh the package lists, so the repository's newest is not known.
    const candidate = config.dryRun ? Option.orElse(offered, () => Option.some(published)) : offered
    if (Option.isNone(candidate) || isUpToDate(installed, upstreamOf(candidate.value))) {
      yield* Effect.logWarning(
        `the repository offers ${Option.getOrElse(candidate, () => "no agent")}, not ${published}; nothing to do`
      )
      return PassOutcome.NotOffered({ installed, published, candidate: Option.getOrUndefined(candidate) })
    }
    const running = yield* agent.isRunning
    const version = running
      ? yield* upgradeRunningAgent(installed, candidate.value)
      : yield* Effect.gen(function*() {
        yield* Effect.logInfo("the agent is not running; upgrading it and leaving it stopped")
        yield* journalStep({ previous: installed, target: candidate.value, agentWasRunning: false })("transaction", false)
        return yield* transaction
      })
    if (config.dryRun) {
      yield* Effect.logInfo(`dry run: the agent would be upgraded from ${installed} to ${candidate.value}; nothing was changed`)
      return PassOutcome.Upgraded({ from: installed, to: candidate.value, agentWasRunning: running })
    }
    yield* Effect.logInfo(`upgraded the agent from ${installed} to ${version}`)
    return PassOutcome.Upgraded({ from: installed, to: version, agentWasRunning: running })
  }).pipe(
    // A failed upgrade keeps its journal: the next pass finishes what it left (see Recovery).
    Effect.tap(() => clearJournal)
  )

export interface PassOptions {
  /** Upgrade an old agent; when false, the pass reports `Behind` instead (the daemon's rollout delay). */
  readonly upgrade: boolean
}

const passOnce = (options: PassOptions) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const repository = yield* Repository
    const packages = yield* PackageManager
    yield* FileLock.acquireScoped(config.passLock, {
      poll: config.lockPoll,
      // Only an updater writes this lock: anything else in it (a dead pid, a reused one, no pid) is stale.
      owns: isUpdater,
      onWait: (pid) => Effect.logInfo(`another update pass (pid ${pid ?? "?"}) is running; waiting for it`)
    })
    yield* recoverInterruptedUpgrade
    const published = yield* repository.latestVersion
    yield* Effect.logDebug(`${repository.base}/version.txt names ${published}`)
    yield* ensureRepository
    const installed = yield* packages.installedVersion
    if (Option.isNone(installed)) return yield* installAgent
    if (isUpToDate(installed.value, published)) {
      yield* Effect.logInfo(`the agent ${installed.value} is up to date (published: ${published})`)
      return PassOutcome.UpToDate({ installed: installed.value, published })
    }
    const reason = yield* reasonToLeaveAlone(published)
    if (Option.isSome(reason)) {
      yield* Effect.logWarning(`the agent ${installed.value} is older than ${published}, but ${reason.value}`)
      return PassOutcome.Skipped({ installed: installed.value, published, reason: reason.value })
    }
    if (!options.upgrade) return PassOutcome.Behind({ installed: installed.value, published })
    return yield* upgradeAgent(installed.value, published)
  }).pipe(Effect.scoped)

/** One pass, its result remembered as the last check or the last error. */
export const pass = (options: PassOptions) =>
  Effect.gen(function*() {
    const store = yield* StateStore
    const remember = (f: (at: number) => Parameters<typeof store.update>[0]) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => store.update(f(at))).pipe(
        Effect.catchAll((error) => Effect.logWarning(error.message))
      )
    return yield* passOnce(options).pipe(
      Effect.tap((outcome) => remember((at) => (s) => ({ ...s, lastCheck: { at, result: describeOutcome(outcome) } }))),
      Effect.tapError((error) => remember((at) => (s) => ({ ...s, lastError: { at, message: error.message } })))
    )
  })

export const updatePass = pass({ upgrade: true })
