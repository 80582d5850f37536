/**
 * Taking the agent's backup lock for an upgrade: waits while the agent holds
 * it, treats it as released when its holder is dead or the agent has not been
 * running for the grace period, and gives up after `maxBusyWait` if one is set.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { AgentService } from "../services/AgentService.js"
import { FileLock } from "../services/FileLock.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export class AgentBusy extends Data.TaggedError("AgentBusy")<{ readonly waited: Duration.Duration; readonly pid: number | undefined }> {
  override get message(): string {
    return `the agent was still busy after ${Duration.format(this.waited)} (backup lock held by pid ${this.pid ?? "?"}); giving up as --max-wait says`
  }
}

/** Holds the agent's lock for the scope. */
export const holdAgentLock = Effect.gen(function*() {
  const config = yield* UpdaterConfig
  const locks = yield* FileLock
  const agent = yield* AgentService
  const path = config.agentLock
  const since = yield* Clock.currentTimeMillis
  let announced = false
  let agentDownSince: number | undefined

  const attempt = locks.tryAcquire(path).pipe(
    Effect.as(true),
    Effect.catchTag("LockHeld", (held) =>
      Effect.gen(function*() {
        if (yield* locks.breakStale(path)) {
          yield* Effect.logWarning(`removed the stale backup lock ${path}: its holder, pid ${held.pid}, is gone`)
          return false
        }
        const now = yield* Clock.currentTimeMillis
        agentDownSince = (yield* agent.isRunning) ? undefined : (agentDownSince ?? now)
        if (agentDownSince !== undefined && now - agentDownSince >= Duration.toMillis(config.staleLockGrace)) {
          if (yield* locks.breakStale(path, () => false)) {
            yield* Effect.logWarning(
              `removed the stale backup lock ${path}: the agent has not been running for ${Duration.format(config.staleLockGrace)}`
            )
          }
          return false
        }
        const waited = Duration.millis(now - since)
        if (Option.isSome(config.maxBusyWait) && Duration.greaterThanOrEqualTo(waited, config.maxBusyWait.value)) {
          return yield* new AgentBusy({ waited: config.maxBusyWait.value, pid: held.pid })
        }
        if (!announced) {
          announced = true
          yield* Effect.logInfo(`the agent is busy (${path} held by pid ${held.pid ?? "?"}); waiting for it to finish`)
        }
        const left = Option.match(config.maxBusyWait, {
          onNone: () => config.lockPoll,
          onSome: (max) => Duration.min(config.lockPoll, Duration.subtract(max, waited))
        })
        yield* locks.awaitChange(path, left)
        return false
      }))
  )
  // Each attempt paces itself: it returns on a change in the lock's directory or after a poll.
  yield* Effect.repeat(attempt, Schedule.recurUntil((acquired: boolean) => acquired))
  yield* Effect.addFinalizer(() => locks.release(path).pipe(Effect.catchAll((e) => Effect.logWarning(e.message))))
})
