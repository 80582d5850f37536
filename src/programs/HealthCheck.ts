/**
 * After an upgrade the agent must stay running for the grace period; if it does
 * not, the upgrade is rolled back (see Rollback).
 */
import * as Duration from "effect/Duration"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { AgentService } from "../services/AgentService.js"
import { UpdaterConfig } from "../services/UpdaterConfig.js"

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

/**
 * Starts the agent and watches it for the grace period: what went wrong, if anything, said of
 * `version` (`1.1.0-1 did not start: …`, `1.1.0-1 did not stay running for 30s`).
 */
export const startAndWatch = (version: string) =>
  Effect.gen(function*() {
    const started = yield* Effect.either((yield* AgentService).start)
    if (Either.isLeft(started)) return Option.some(`${version} did not start: ${started.left.message}`)
    if (!(yield* staysRunning.pipe(Effect.orElseSucceed(() => false)))) return Option.some(yield* notHealthy(version))
    return Option.none<string>()
  })

/** Why the health check failed, as the rollback records it. */
export const notHealthy = (version: string) =>
  Effect.map(UpdaterConfig, ({ healthGrace }) => `${version} did not stay running for ${Duration.format(healthGrace)}`)
