/**
 * Taking the agent's backup lock for an upgrade: waits while the agent holds
 * it, treats it as released when its holder is dead or the agent has not been
 * running for the grace period, and gives up after `maxBusyWait` if one is set
 * (checked at each look, so at most one poll late).
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AgentService } from "../services/AgentService.js"
import * as FileLock from "../services/FileLock.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export class AgentBusy extends Data.TaggedError("AgentBusy")<{ readonly waited: Duration.Duration; readonly pid: number | undefined }> {
  override get message(): string {
    return `the agent was still busy after ${Duration.format(this.waited)} (backup lock held by pid ${this.pid ?? "?"}); giving up as --max-wait says`
  }
}

/** Holds the agent's lock for the scope. */
export const holdAgentLock = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  const locks = yield* FileLock.FileLock
  const agent = yield* AgentService
  const path = config.agentLock
  const since = yield* Clock.currentTimeMillis
  let agentDownSince: number | undefined

  /** A lock held while the agent is down for the grace period is stale; a busy agent is waited for up to --max-wait. */
  const onStillHeld = (held: FileLock.LockHeld) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      agentDownSince = (yield* agent.isRunning) ? undefined : (agentDownSince ?? now)
      if (agentDownSince !== undefined && now - agentDownSince >= Duration.toMillis(config.staleLockGrace)) {
        if (yield* locks.breakStale(path, () => false)) {
          yield* Effect.logWarning(
            `removed the stale lock ${path}: the agent has not been running for ${Duration.format(config.staleLockGrace)}`
          )
        }
        return
      }
      const waited = Duration.millis(now - since)
      if (Option.isSome(config.maxBusyWait) && Duration.greaterThanOrEqualTo(waited, config.maxBusyWait.value)) {
        return yield* new AgentBusy({ waited: config.maxBusyWait.value, pid: held.pid })
      }
    })

  yield* FileLock.acquireScoped(path, {
    poll: config.lockPoll,
    onStillHeld,
    onWait: (pid) => Effect.logInfo(`the agent is busy (${path} held by pid ${pid ?? "?"}); waiting for it to finish`)
  })
})
