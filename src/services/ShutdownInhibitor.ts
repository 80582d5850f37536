/**
 * Keeps the host from shutting down while the agent is stopped for an upgrade,
 * where the init system can (systemd-inhibit); elsewhere it does nothing.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as EffectModule from "effect/Effect"

export interface ShutdownInhibitorShape {
  /** Blocks shutdown for the scope; a failure to do so is logged, never fatal. */
  readonly hold: (why: string) => Effect.Effect<void, never, Scope.Scope>
}

export class ShutdownInhibitor extends Context.Tag("cloudbackup-updater/ShutdownInhibitor")<
  ShutdownInhibitor,
  ShutdownInhibitorShape
>() {}

export const none: Layer.Layer<ShutdownInhibitor> = Layer.succeed(ShutdownInhibitor, { hold: () => EffectModule.void })
