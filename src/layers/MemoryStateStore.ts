/** StateStore in memory, for the simulated host and the tests. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { StateStore, type UpdaterState } from "../services/StateStore.js"

export const make = (initial: UpdaterState = {}) =>
  Effect.map(Ref.make(initial), (ref) => StateStore.of({ get: Ref.get(ref), update: (f) => Ref.update(ref, f) }))

export const layer = (initial?: UpdaterState): Layer.Layer<StateStore> => Layer.effect(StateStore, make(initial))
