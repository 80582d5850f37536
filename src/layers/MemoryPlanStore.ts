/** PlanStore in memory, for the simulated host and the tests. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type PlannedUpgrade, PlanStore } from "../services/PlanStore.js"

export const make = (initial: Option.Option<PlannedUpgrade> = Option.none()) =>
  Effect.map(Ref.make(initial), (ref) =>
    PlanStore.of({
      get: Ref.get(ref),
      set: (plan) => Ref.set(ref, Option.some(plan)),
      clear: Ref.set(ref, Option.none())
    }))

export const layer = (initial?: Option.Option<PlannedUpgrade>): Layer.Layer<PlanStore> =>
  Layer.effect(PlanStore, make(initial))
