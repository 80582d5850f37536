/**
 * Taking the agent's backup lock for an upgrade: waits while the agent holds
 * it, and gives up after `maxBusyWait` if one is set (checked at each look, so
 * at most one poll late). A lock is stale, and removed with a warning, when
 *  (a) the pid it names is gone: no such process, or one started after the lock
 *      was made (the pid was reused); a lock naming this process's own pid is
 *      FileLock's to reclaim;
 *  (b) it names no pid and is older than the running agent process: the agent
 *      restarted after making it;
 *  (c) the agent has not been running for the grace period.
 * A lock whose named process lives is its holder's, whatever the agent's age:
 * it is judged only by (c).
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { TIME_SLACK_MILLIS } from "../domain/LockContent.js"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export class AgentBusy extends Data.TaggedError("AgentBusy")<{ readonly waited: Duration.Duration; readonly pid: number | undefined }> {
  override get message(): string {
    return `the agent was still busy after ${Duration.format(this.waited)} (backup lock held by pid ${this.pid ?? "?"}); giving up as --max-wait says`
  }
}

const iso = (at: number) => new Date(at).toISOString()

/** Rule (a), which needs nothing but the lock and the process table. */
const namedHolderGone = (holder: FileLock.Holder): boolean =>
  holder.pid !== undefined &&
  (!holder.alive || (holder.startedAt !== undefined && holder.startedAt > holder.modifiedAt + TIME_SLACK_MILLIS))

/** Holds the agent's lock for the scope. */
export const holdAgentLock = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  const locks = yield* FileLock.FileLock
  const agent = yield* AgentService
  const path = config.agentLock
  const since = yield* Clock.currentTimeMillis
  let agentDownSince: number | undefined

  /** Which rule makes the lock stale, if one does. */
  const staleReason = (
    holder: FileLock.Holder,
    agentStartedAt: Option.Option<number>,
    agentDownFor: number | undefined
  ): string | undefined => {
    if (namedHolderGone(holder)) {
      return holder.alive
        ? `pid ${holder.pid} now belongs to a process started after the lock was made (${iso(holder.modifiedAt)})`
        : `pid ${holder.pid}, named in it, is gone`
    }
    if (
      holder.pid === undefined && Option.isSome(agentStartedAt) &&
      holder.modifiedAt < agentStartedAt.value - TIME_SLACK_MILLIS
    ) {
      return `it names no pid and is older than the running agent (made ${iso(holder.modifiedAt)}, the agent started ${
        iso(agentStartedAt.value)
      })`
    }
    if (agentDownFor !== undefined && agentDownFor >= Duration.toMillis(config.staleLockGrace)) {
      return `the agent has not been running for ${Duration.format(config.staleLockGrace)}`
    }
    return undefined
  }

  /** Removes the lock if a rule makes it stale; a busy agent is waited for up to --max-wait. */
  const onStillHeld = (held: FileLock.LockHeld) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const running = yield* agent.isRunning
      agentDownSince = running ? undefined : (agentDownSince ?? now)
      // Only a lock naming no pid needs the agent's age: a named pid answers without running anything.
      const agentStartedAt = running && held.pid === undefined
        ? yield* agent.startedAt.pipe(
          Effect.catchAll((error) => Effect.as(Effect.logDebug(`the agent's start time is unknown: ${error.message}`), Option.none()))
        )
        : Option.none()
      let reason: string | undefined
      const removed = yield* locks.breakStale(path, (holder) => {
        reason = staleReason(holder, agentStartedAt, agentDownSince === undefined ? undefined : now - agentDownSince)
        return reason === undefined
      })
      if (removed) {
        yield* Effect.logWarning(`removed the stale lock ${path}: ${reason}`)
        return
      }
      const waited = Duration.millis(now - since)
      if (Option.isSome(config.maxBusyWait) && Duration.greaterThanOrEqualTo(waited, config.maxBusyWait.value)) {
        return yield* new AgentBusy({ waited: config.maxBusyWait.value, pid: held.pid })
      }
    })

  yield* FileLock.acquireScoped(path, {
    poll: config.lockPoll,
    owns: (holder) => !namedHolderGone(holder),
    onStillHeld,
    onWait: (pid) => Effect.logInfo(`the agent is busy (${path} held by pid ${pid ?? "?"}); waiting for it to finish`)
  })
})
