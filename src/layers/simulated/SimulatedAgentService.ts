/**
 * AgentService over the host model, under systemd. It checks a promise of the
 * contract as it goes: stopping the agent while a backup holds its lock, or
 * without the updater holding it, is recorded as a violation.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AgentService, AgentServiceError } from "../../services/AgentService.js"
import type * as MemoryFileLock from "../MemoryFileLock.js"
import type { HostModel } from "./HostModel.js"

export interface SimulatedAgentServiceOptions {
  readonly locks: MemoryFileLock.MemoryFileLock
  readonly agentLock: string
  /** The updater's own pid: its holding the agent's lock is what makes a stop safe. */
  readonly updaterPid: number
}

export const make = (model: HostModel, options: SimulatedAgentServiceOptions) =>
  AgentService.of({
    kind: "systemd",
    isRunning: Effect.map(model.state, (s) => s.running),
    startedAt: Effect.map(model.state, (s) => (s.running ? Option.fromNullable(s.agentStartedAt) : Option.none())),
    isEnabled: Effect.map(model.state, (s) => s.unitFileState === "enabled"),
    stop: Effect.gen(function*() {
      const holder = (yield* options.locks.held).get(options.agentLock)
      if (holder !== undefined && holder !== options.updaterPid) {
        yield* model.violate(`agent stopped while pid ${holder} holds ${options.agentLock}`)
      } else if (holder === undefined) {
        yield* model.violate(`agent stopped without the updater holding ${options.agentLock}`)
      }
      const outcome = yield* model.stopAgent
      if (outcome._tag === "Failed") {
        return yield* new AgentServiceError({ operation: "stop", detail: outcome.line ?? "Job for driveclient.service canceled" })
      }
    }),
    start: Effect.gen(function*() {
      const outcome = yield* model.startAgent
      if (outcome._tag === "NotInstalled") {
        return yield* new AgentServiceError({ operation: "start", detail: "driveclient is not installed" })
      }
      if (outcome._tag === "Failed") {
        return yield* new AgentServiceError({ operation: "start", detail: outcome.line ?? "Job for driveclient.service failed" })
      }
    })
  })
