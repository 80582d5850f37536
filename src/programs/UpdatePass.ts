/**
 * One update pass, in the contract's order: read the published version, then
 *   1. the repository is configured,
 *   2. the agent is installed,
 *   3. an agent that is up to date is left untouched,
 *   4. an old agent that is not running is upgraded and left stopped,
 *   5. an old, running, idle agent is upgraded (downloaded first, then stopped, upgraded, started),
 *   6. an old, running, busy agent is waited for, holding its lock once released, then as in 5.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { reasonsToLeaveAlone } from "../domain/LeaveAlone.js"
import { compareUpstream, isUpToDate, upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import { StateStore, type UpdaterState } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { describeDefect } from "./ExitCode.js"
import { clearJournal } from "./Journal.js"
import * as NotBefore from "./NotBefore.js"
import { publishedRead } from "./PassMetrics.js"
import { describeOutcome, PassOutcome } from "./PassOutcome.js"
import { isUpdater } from "./Pidfile.js"
import { recoverInterruptedUpgrade, type UnfinishedUpgrade } from "./Recovery.js"
import { rememberFailed } from "./Rollback.js"
import { earlierPrevious, keepPackages, transaction } from "./Transaction.js"
import { upgradeOldAgent } from "./UpgradeAgent.js"

export { describeOutcome, PassOutcome } from "./PassOutcome.js"
export { AgentStartedMeanwhile, UpgradeFailed } from "./UpgradeAgent.js"

/** The agent's package is left half-way, and the version that would mend it is the one that failed. */
export class PackageUnfinished extends Data.TaggedError("PackageUnfinished")<{ readonly version: string; readonly failed: string }> {
  override get message(): string {
    return `the agent's package ${this.version} is left unfinished and cannot be repaired; waiting for a version newer than ${this.failed}`
  }
}

// 1. The repository is configured.

export const ensureRepository = Effect.gen(function*() {
  const packages = yield* PackageManager
  const state = yield* packages.repositoryState
  if (state._tag === "Configured") {
    yield* Effect.logDebug(`agent repository is configured in ${state.file}`)
    return
  }
  yield* Effect.logInfo(`configuring the agent repository ${(yield* Repository).base}`)
  yield* packages.configureRepository
})

// 2. The agent is installed.

/**
 * The agent's package as the pass goes on from: one an earlier transaction left half-way is
 * repaired first, and if it cannot be, it is reported as unfinished — never as up to date.
 */
const installedAgent = Effect.gen(function*() {
  const packages = yield* PackageManager
  const found = yield* packages.installedState
  if (Option.isNone(found) || !found.value.unfinished) return found
  yield* Effect.logWarning(`the agent's package ${found.value.version} was left half-way by an earlier transaction; repairing it`)
  yield* Effect.uninterruptible(packages.repair).pipe(Effect.catchAll((error) => Effect.logError(error.message)))
  return yield* packages.installedState
})

/**
 * Installs the agent, or finishes a package an earlier transaction left half-way (`unfinished`,
 * its version); an agent that ran before that transaction is started again.
 */
const installAgent = (unfinished: Option.Option<string>, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const packages = yield* PackageManager
    yield* packages.refresh
    // Downloaded first, so that a copy is kept even where the package manager empties its cache.
    const candidate = yield* packages.candidateVersion
    if (Option.isSome(candidate)) {
      yield* packages.download
      yield* keepPackages([candidate.value, ...earlierPrevious(earlier)])
    }
    const version = yield* transaction.pipe(
      // Over a package left half-way, a version that fails too is not tried again until a newer one.
      Effect.tapError((error) =>
        Option.isSome(unfinished) && Option.isSome(candidate) ? rememberFailed(candidate.value, error.message) : Effect.void
      )
    )
    yield* keepPackages([version, ...earlierPrevious(earlier)])
    yield* Effect.logInfo(`installed the agent ${version}`)
    if (Option.isSome(unfinished)) {
      // It may have run before the transaction that left it half-way: an enabled agent is started.
      const agent = yield* AgentService
      const ran = Option.exists(earlier, ({ entry }) => entry.agentWasRunning) || (yield* agent.isEnabled)
      if (ran && !(yield* agent.isRunning)) yield* agent.start
      yield* clearJournal
    }
    return PassOutcome.Installed({ version })
  })

const installMissingAgent = (earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.zipRight(Effect.logInfo("the agent is not installed; installing it"), installAgent(Option.none(), earlier))

/** A package the repair could not finish: only a version newer than it (and than a failed one) can mend it. */
const mendUnfinishedAgent = (version: string, published: string, earlier: Option.Option<UnfinishedUpgrade>) =>
  Effect.gen(function*() {
    const failed = (yield* (yield* StateStore).get).failedVersion?.version
    const newest = [upstreamOf(version), ...(failed === undefined ? [] : [failed])]
    if (newest.some((v) => compareUpstream(published, v) <= 0)) {
      return yield* Option.match(earlier, {
        onNone: () => Effect.fail(new PackageUnfinished({ version, failed: failed ?? upstreamOf(version) })),
        onSome: ({ error }) => Effect.fail(error)
      })
    }
    yield* Effect.logWarning(`the agent ${version} was left half-installed; installing it again`)
    return yield* installAgent(Option.some(version), earlier)
  })

// 3. An agent that is up to date is left untouched; so is one the rules say to leave alone.

const upToDate = (installed: string, published: string) =>
  Effect.as(
    Effect.logInfo(`the agent ${installed} is up to date (published: ${published})`),
    PassOutcome.UpToDate({ installed, published })
  )

/** Why an old agent is to be left as it is, if it is; the agent's state is read only when it matters. */
const reasonToLeaveAlone = (published: string) =>
  Effect.gen(function*() {
    const agent = yield* AgentService
    const facts = {
      published,
      held: yield* (yield* PackageManager).isHeld,
      failedVersion: (yield* (yield* StateStore).get).failedVersion
    }
    const known = reasonsToLeaveAlone(facts)
    if (known.length > 0) return Option.some(known[0]!.text)
    const serviceEnabled = yield* agent.isEnabled
    const running = serviceEnabled ? undefined : yield* agent.isRunning
    return Option.map(Option.fromNullable(reasonsToLeaveAlone({ ...facts, serviceEnabled, running })[0]), (r) => r.text)
  })

export interface PassOptions {
  /** Upgrade an old agent; when false, the pass reports `Behind` instead (the daemon's rollout delay). */
  readonly upgrade: boolean
}

const holdPassLock = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  yield* FileLock.acquireScoped(config.passLock, {
    poll: config.lockPoll,
    // Only an updater writes this lock: anything else in it (a dead pid, a reused one, no pid) is stale.
    owns: isUpdater,
    onWait: (pid) => Effect.logInfo(`another update pass (pid ${pid ?? "?"}) is running; waiting for it`)
  })
})

const publishedVersion = Effect.gen(function*() {
  const repository = yield* Repository
  const published = yield* repository.latestVersion
  yield* Effect.logDebug(`${repository.base}/version.txt names ${published}`)
  // For the metrics of a pass that fails after this.
  yield* FiberRef.set(publishedRead, Option.some(published))
  return published
})

const passOnce = (options: PassOptions) =>
  Effect.gen(function*() {
    yield* holdPassLock
    const earlier = yield* recoverInterruptedUpgrade
    // What is left of an earlier upgrade fails a pass that has nothing more to do: its journal stays.
    const done = (outcome: PassOutcome) =>
      Option.match(earlier, { onNone: () => Effect.succeed(outcome), onSome: ({ error }) => Effect.fail(error) })
    const published = yield* publishedVersion

    yield* ensureRepository
    const agent = yield* installedAgent
    if (Option.isNone(agent)) return yield* installMissingAgent(earlier)
    if (agent.value.unfinished) return yield* mendUnfinishedAgent(agent.value.version, published, earlier)
    const installed = agent.value.version
    if (isUpToDate(installed, published)) return yield* Effect.flatMap(upToDate(installed, published), done)
    const reason = yield* reasonToLeaveAlone(published)
    if (Option.isSome(reason)) {
      yield* Effect.logWarning(`the agent ${installed} is older than ${published}, but ${reason.value}`)
      return yield* done(PassOutcome.Skipped({ installed, published, reason: reason.value }))
    }
    if (!options.upgrade) return yield* done(PassOutcome.Behind({ installed, published }))
    const outcome = yield* upgradeOldAgent(installed, published, earlier)
    return outcome._tag === "Upgraded" ? outcome : yield* done(outcome)
  }).pipe(Effect.scoped)

/** Saves `f` of the state at the current time; a state that cannot be saved is only a warning. */
const remember = (f: (at: number) => (state: UpdaterState) => UpdaterState) =>
  Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.flatMap(StateStore, (store) => store.update(f(at)))).pipe(
    Effect.catchAll((error) => Effect.logWarning(error.message))
  )

/** Remembers a defect as the last error, as a failed pass is. */
export const rememberDefect = (cause: Cause.Cause<never>) =>
  remember((at) => (state) => ({ ...state, lastError: { at, message: describeDefect(cause) } }))

/** A failure is the last error, and a `Retry-After` it carries is the repository's not-before time. */
const rememberFailure = (error: { readonly message: string }) =>
  remember((at) => (state) => ({
    ...state,
    lastError: { at, message: error.message },
    ...Option.match(NotBefore.afterFailure(error, at), { onNone: () => ({}), onSome: (notBefore) => ({ notBefore }) })
  }))

const rememberOutcome = (outcome: PassOutcome) =>
  remember((at) => ({ notBefore: _, ...state }) => ({ ...state, lastCheck: { at, result: describeOutcome(outcome) } }))

/**
 * One pass, its result remembered as the last check or the last error (a defect too). It does not
 * start before the repository's not-before time.
 */
export const pass = (options: PassOptions) =>
  Effect.zipRight(
    NotBefore.check,
    passOnce(options).pipe(Effect.tap(rememberOutcome), Effect.tapError(rememberFailure), Effect.tapDefect(rememberDefect))
  )

export const updatePass = pass({ upgrade: true })
