/**
 * After an upgrade the agent must stay running for the grace period. If it does
 * not, the previous version is installed again and started, and the failed
 * version is remembered so that it is not tried again until a newer one is published.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { upstreamOf } from "../domain/Version.js"
import { AgentService } from "../services/AgentService.js"
import { PackageManager } from "../services/PackageManager.js"
import { Repository } from "../services/Repository.js"
import type { JournalStep, StateStoreError } from "../services/StateStore.js"
import { StateStore } from "../services/StateStore.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

export class AgentUnhealthy extends Data.TaggedError("AgentUnhealthy")<{
  readonly version: string
  readonly rolledBackTo: string
  readonly grace: Duration.Duration
}> {
  override get message(): string {
    return `the agent ${this.version} did not stay running for ${Duration.format(this.grace)}; rolled back to ${this.rolledBackTo}`
  }
}

class AgentDown extends Data.TaggedError("AgentDown")<{}> {}

const HEALTH_POLL = Duration.seconds(1)

/** Whether the agent is running at every look during the grace period. */
export const staysRunning = Effect.gen(function*() {
  const { healthGrace } = yield* UpdaterConfig
  const agent = yield* AgentService
  return yield* agent.isRunning.pipe(
    Effect.filterOrFail((running) => running, () => new AgentDown()),
    Effect.repeat(Schedule.spaced(HEALTH_POLL).pipe(Schedule.upTo(healthGrace))),
    Effect.as(true),
    Effect.catchTag("AgentDown", () => Effect.succeed(false))
  )
})

export const rollBackUnlessHealthy = (options: {
  readonly previous: string
  readonly target: string
  readonly step: (step: JournalStep, holdsAgentLock: boolean) => Effect.Effect<void, StateStoreError, StateStore | UpdaterConfig>
}) =>
  Effect.gen(function*() {
    if (yield* staysRunning) return
    const { healthGrace } = yield* UpdaterConfig
    const agent = yield* AgentService
    const packages = yield* PackageManager
    yield* Effect.logError(`the agent ${options.target} did not stay running; rolling back to ${options.previous}`)
    yield* options.step("rollback", true)
    if (yield* agent.isRunning) yield* agent.stop
    // Metadata that names the previous version; without it, what the package manager has will have to do.
    yield* packages.refresh((yield* Repository).base).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
    yield* Effect.uninterruptible(packages.installVersion(options.previous))
    yield* agent.start
    const at = yield* Clock.currentTimeMillis
    yield* (yield* StateStore).update((state) => ({
      ...state,
      failedVersion: { version: upstreamOf(options.target), at, reason: `it did not stay running after the upgrade` }
    }))
    return yield* new AgentUnhealthy({ version: options.target, rolledBackTo: options.previous, grace: healthGrace })
  })
