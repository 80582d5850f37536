/** StateStore in memory, for the simulated host and the tests. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { StateStore, type UpdaterState } from "../services/StateStore.js"

/**
 * An `initial` with `damaged` stands for a damaged state file, and the rest of
 * it is dropped: like that file, it is reported by every `get` until the first
 * `update`, which starts from `{}`.
 */
export const make = (initial: UpdaterState = {}) =>
  Effect.map(
    Ref.make<UpdaterState>(initial.damaged === undefined ? initial : { damaged: initial.damaged }),
    (ref) =>
      StateStore.of({
        get: Ref.get(ref),
        update: (f) =>
          Ref.update(ref, (state) => {
            const { damaged: _, ...next } = f(state.damaged === undefined ? state : {})
            return next
          })
      })
  )

export const layer = (initial?: UpdaterState): Layer.Layer<StateStore> => Layer.effect(StateStore, make(initial))
