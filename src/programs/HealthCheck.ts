/**
 * After an upgrade the agent must stay running for the grace period; if it does
 * not, the upgrade is rolled back (see Rollback).
 */
import * as Duration from "effect/Duration"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
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

/** Why the health check failed, as the rollback records it. */
export const notHealthy = (version: string) =>
  Effect.map(UpdaterConfig, ({ healthGrace }) => `${version} did not stay running for ${Duration.format(healthGrace)}`)
