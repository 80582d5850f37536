/** The agent's init-system service: whether and since when it runs, and stopping and starting it. */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

export type ServiceManagerKind = "systemd" | "sysv"

export const serviceManagerKinds: ReadonlyArray<ServiceManagerKind> = ["systemd", "sysv"]

export class AgentServiceError extends Data.TaggedError("AgentServiceError")<{
  readonly operation: "status" | "stop" | "start" | "is-enabled"
  readonly detail: string
}> {
  override get message(): string {
    return `cannot ${this.operation} the agent: ${this.detail}`
  }
}

export interface AgentServiceShape {
  readonly kind: ServiceManagerKind
  readonly isRunning: Effect.Effect<boolean, AgentServiceError>
  /**
   * When the running agent's main process started (epoch ms, exact to a second); none when
   * the agent is not running or its process cannot be told.
   */
  readonly startedAt: Effect.Effect<Option.Option<number>, AgentServiceError>
  /** Whether the service starts at boot: an administrator who disabled it keeps the agent stopped. */
  readonly isEnabled: Effect.Effect<boolean, AgentServiceError>
  readonly stop: Effect.Effect<void, AgentServiceError>
  readonly start: Effect.Effect<void, AgentServiceError>
}

export class AgentService extends Context.Tag("cloudbackup-updater/AgentService")<AgentService, AgentServiceShape>() {}
