/**
 * Finishing what an earlier pass left. A journal found at the start of a pass —
 * under the pass lock, so its updater has ended — belongs to an upgrade that died
 * half-way: the pass repairs the package state and gives back the backup lock
 * that updater held; then, if the new version is in place, it makes sure that
 * agent starts and stays running, and rolls back when it does not or when the
 * package state cannot be repaired. A state file that could not be read may have
 * held such a journal: the agent is started if its service is enabled.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { type JournalEntry, type JournalStep, StateStore, type UpdaterState } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { notHealthy, staysRunning } from "./HealthCheck.js"
import { clearJournal, journal } from "./Journal.js"
import { rollBack } from "./Rollback.js"

/** Steps after which the new version may be in place. */
const AFTER_STOP: ReadonlySet<JournalStep> = new Set(["transaction", "start", "health-check"])

const startAgent = Effect.gen(function*() {
  const agent = yield* AgentService
  if (yield* agent.isRunning) return
  yield* Effect.logInfo("starting the agent, which was running before the upgrade")
  yield* agent.start
})

const finishUpgrade = (entry: JournalEntry) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    const locks = yield* FileLock
    const steps = journal(entry)
    const rollBackFor = (reason: string) => rollBack({ ...entry, reason, journal: steps, holdsAgentLock: false })
    yield* Effect.logWarning(
      `finishing an upgrade of the agent ${entry.previous} to ${entry.target} (pid ${entry.pid}) ` +
        `that ended before its "${entry.step}" step`
    )
    const repaired = yield* Effect.either(Effect.uninterruptible(packages.repair))
    if (Either.isRight(repaired) && Option.isSome(repaired.right)) {
      yield* Effect.logInfo(`repaired the interrupted package transaction: ${repaired.right.value}`)
    }
    if (entry.holdsAgentLock && (yield* locks.breakStale(config.agentLock, (holder) => holder.pid !== entry.pid))) {
      yield* Effect.logInfo(`released the backup lock ${config.agentLock} that pid ${entry.pid} held`)
    }
    if (entry.step === "rollback") return yield* rollBackFor(`an earlier rollback from ${entry.target} did not finish`)

    const installed = yield* packages.installedState
    const newInPlace = Option.isSome(installed) && installed.value.version !== entry.previous
    const unfinished = Option.isSome(installed) && installed.value.unfinished
    if (Either.isLeft(repaired) || unfinished) {
      const detail = Either.isLeft(repaired) ? repaired.left.message : "the package is still unfinished"
      if (newInPlace || unfinished) return yield* rollBackFor(`the interrupted transaction could not be finished: ${detail}`)
    }
    if (Either.isLeft(repaired)) {
      // The agent's own package is intact: what failed to repair is another package's.
      if (entry.agentWasRunning) yield* startAgent.pipe(Effect.catchAll((error) => Effect.logError(error.message)))
      yield* clearJournal
      return yield* Effect.fail(repaired.left)
    }
    if (entry.agentWasRunning) {
      const started = yield* Effect.either(startAgent)
      if (Either.isLeft(started)) {
        if (newInPlace) return yield* rollBackFor(`the new agent did not start: ${started.left.message}`)
        yield* Effect.logError(started.left.message)
      } else if (newInPlace && AFTER_STOP.has(entry.step) && !(yield* staysRunning)) {
        return yield* rollBackFor(yield* notHealthy(installed.value.version))
      }
    }
    yield* clearJournal
  })

/**
 * After a damaged state file, whose journal may be lost: a backup lock whose holder is gone is
 * released, and an enabled agent that is installed but stopped is started.
 */
const recoverFromDamagedState = (damaged: NonNullable<UpdaterState["damaged"]>) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const agent = yield* AgentService
    const packages = yield* PackageManager
    yield* Effect.logWarning(
      `the state file is damaged (${damaged.detail}${damaged.movedTo === undefined ? "" : `; it is kept as ${damaged.movedTo}`}); ` +
        "an upgrade may have been under way"
    )
    if (yield* (yield* FileLock).breakStale(config.agentLock)) {
      yield* Effect.logWarning(`released the backup lock ${config.agentLock}: its holder is gone`)
    }
    if (Option.isNone(yield* packages.installedVersion)) return
    if (!(yield* agent.isRunning) && (yield* agent.isEnabled)) {
      yield* Effect.logWarning("the agent's service is enabled but the agent is stopped; starting it")
      yield* agent.start
    }
  }).pipe(Effect.catchAll((error) => Effect.logError(error.message)))

export const recoverInterruptedUpgrade = Effect.gen(function*() {
  const state = yield* (yield* StateStore).get
  if (state.damaged !== undefined) yield* recoverFromDamagedState(state.damaged)
  if (state.journal !== undefined) yield* finishUpgrade(state.journal)
})
