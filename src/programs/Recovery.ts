/**
 * Finishing what an earlier pass left. A journal found at the start of a pass —
 * under the pass lock, so its updater has ended — belongs to an upgrade that died
 * half-way or a rollback that could not be done: the pass repairs the package
 * state and gives back the backup lock that updater held; then, if the new
 * version is in place, it makes sure that agent starts and stays running, and
 * rolls back when it does not or when the package state cannot be repaired. What
 * cannot be finished is handed to the pass as an unfinished upgrade: the journal
 * stays for the next pass to try again, and a newer version, once published, is
 * installed over it (the pass never waits for it). A state file that could not be
 * read may have held such a journal: the agent is started if its service is enabled.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import { FileLock, type Holder } from "../services/FileLock.js"
import { PackageManager } from "../services/PackageManager.js"
import { type JournalEntry, type JournalStep, StateStore, type UpdaterState } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"
import { notHealthy, startAndWatch, staysRunning } from "./HealthCheck.js"
import { clearJournal, owedStart } from "./Journal.js"
import { isUpdater } from "./Pidfile.js"
import { rollBack, type RollbackFailed } from "./Rollback.js"

/** An earlier upgrade that could not be finished this time; its journal stays. */
export interface UnfinishedUpgrade {
  readonly entry: JournalEntry
  /** Why, as the pass reports it when it has nothing else to do. */
  readonly error: RollbackFailed | AgentNotRestarted
}

/** The agent that ran before the upgrade could not be started again. */
export class AgentNotRestarted extends Data.TaggedError("AgentNotRestarted")<{ readonly detail: string }> {
  override get message(): string {
    return `the agent, which was running before the upgrade, could not be started again: ${this.detail}`
  }
}

/** Steps after which the new version may be in place. */
const AFTER_STOP: ReadonlySet<JournalStep> = new Set(["transaction", "start", "health-check"])

const startAgent = Effect.gen(function*() {
  const agent = yield* AgentService
  if (yield* agent.isRunning) return
  yield* Effect.logInfo("starting the agent, which was running before the upgrade")
  yield* agent.start
})

const unfinished = (entry: JournalEntry, error: RollbackFailed | AgentNotRestarted) =>
  Effect.as(
    Effect.logError(`${error.message}; the next pass tries again, and a newer version is installed over it`),
    Option.some<UnfinishedUpgrade>({ entry, error })
  )

const finishUpgrade = (entry: JournalEntry) =>
  Effect.gen(function*() {
    const config = yield* UpdaterConfig
    const packages = yield* PackageManager
    const locks = yield* FileLock
    const rollBackFor = (reason: string) =>
      rollBack({ ...entry, reason, holdsAgentLock: false }).pipe(
        Effect.catchTag("RollbackFailed", (error) => unfinished({ ...entry, step: "rollback" }, error))
      )
    yield* Effect.logWarning(
      `finishing an upgrade of the agent ${entry.previous} to ${entry.target} (pid ${entry.pid}) ` +
        `that ended before its "${entry.step}" step`
    )
    const repaired = yield* Effect.either(Effect.uninterruptible(packages.repair))
    if (Either.isRight(repaired) && Option.isSome(repaired.right)) {
      yield* Effect.logInfo(`repaired the interrupted package transaction: ${repaired.right.value}`)
    }
    // Only that updater's lock: a live process that got its pid since (after a reboot) keeps its own.
    const heldByOther = (holder: Holder) => holder.pid !== entry.pid || (holder.alive && !isUpdater(holder))
    if (entry.holdsAgentLock && (yield* locks.breakStale(config.agentLock, heldByOther))) {
      yield* Effect.logInfo(`released the backup lock ${config.agentLock} that pid ${entry.pid} held`)
    }
    if (entry.step === "rollback") return yield* rollBackFor(`the upgrade to ${entry.target} failed earlier`)

    const installed = yield* packages.installedState
    const newInPlace = Option.isSome(installed) && installed.value.version !== entry.previous
    const halfDone = Option.isSome(installed) && installed.value.unfinished
    if (halfDone || (Either.isLeft(repaired) && newInPlace)) {
      const detail = Either.isLeft(repaired) ? repaired.left.message : "the package is still unfinished"
      return yield* rollBackFor(`the interrupted transaction could not be finished: ${detail}`)
    }
    if (entry.agentWasRunning) {
      const started = yield* Effect.either(startAgent)
      if (Either.isLeft(started)) {
        if (newInPlace) return yield* rollBackFor(`the new agent did not start: ${started.left.message}`)
        return yield* unfinished(entry, new AgentNotRestarted({ detail: started.left.message }))
      }
      const version = Option.match(installed, { onNone: () => entry.previous, onSome: ({ version }) => version })
      if ((!newInPlace || AFTER_STOP.has(entry.step)) && !(yield* staysRunning)) {
        if (newInPlace) return yield* rollBackFor(yield* notHealthy(version))
        return yield* unfinished(entry, new AgentNotRestarted({ detail: yield* notHealthy(version) }))
      }
    }
    yield* clearJournal
    // The agent's own package is intact: what failed to repair is another package's.
    if (Either.isLeft(repaired)) return yield* Effect.fail(repaired.left)
    return Option.none<UnfinishedUpgrade>()
  })

/**
 * After a damaged state file, whose journal may be lost: a backup lock whose holder is gone is
 * released, and an enabled agent that is installed but stopped is started; if it does not start,
 * a journal says so, for the next pass to try again.
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
    const installed = yield* packages.installedVersion
    if (Option.isNone(installed) || (yield* agent.isRunning) || !(yield* agent.isEnabled)) return Option.none()
    yield* Effect.logWarning("the agent's service is enabled but the agent is stopped; starting it")
    const problem = yield* startAndWatch(installed.value)
    if (Option.isNone(problem)) return Option.none()
    const entry = yield* owedStart(installed.value)
    return yield* unfinished(entry, new AgentNotRestarted({ detail: problem.value }))
  }).pipe(Effect.catchAll((error) => Effect.as(Effect.logError(error.message), Option.none<UnfinishedUpgrade>())))

/** Finishes what an earlier pass left; what cannot be finished now is returned, not failed. */
export const recoverInterruptedUpgrade = Effect.gen(function*() {
  const state = yield* (yield* StateStore).get
  const fromDamage = state.damaged === undefined ? Option.none() : yield* recoverFromDamagedState(state.damaged)
  if (state.journal === undefined) return fromDamage
  return yield* finishUpgrade(state.journal)
})
