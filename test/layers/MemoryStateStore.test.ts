import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MemoryStateStore from "../../src/layers/MemoryStateStore.js"
import type { UpdaterState } from "../../src/services/StateStore.js"

const journal = {
  pid: 4242,
  step: "secure",
  previous: "1.1.0-1",
  target: "1.2.0-1",
  agentWasRunning: true,
  holdsAgentLock: false,
  secured: { source: "kept", file: "/var/lib/cloudbackup-updater/packages/driveclient-1.1.0-1.x86_64.rpm" }
} as const

describe("MemoryStateStore", () => {
  it.effect("keeps the state it is given and each update", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStateStore.make({ journal })
      expect(yield* store.get).toEqual({ journal })
      yield* store.update((state) => ({ ...state, lastCheck: { at: 1, result: "up to date" } }))
      expect(yield* store.get).toEqual({ journal, lastCheck: { at: 1, result: "up to date" } })
    }))

  it.effect("stands for a damaged file like the file store: reported until a change, which starts afresh", () =>
    Effect.gen(function*() {
      const damaged = { detail: "the file is empty", movedTo: "/var/lib/cloudbackup-updater/state.json.damaged" }
      const store = yield* MemoryStateStore.make({ damaged, journal })
      expect(yield* store.get).toEqual({ damaged })
      expect(yield* store.get).toEqual({ damaged })
      yield* store.update((state) => state)
      expect(yield* store.get).toEqual({})

      const again = yield* MemoryStateStore.make({ damaged })
      const seen: Array<UpdaterState> = []
      yield* again.update((state) => {
        seen.push(state)
        return { ...state, plannedUpgrade: { version: "1.2.0", at: 5 }, damaged }
      })
      expect(seen).toEqual([{}])
      expect(yield* again.get).toEqual({ plannedUpgrade: { version: "1.2.0", at: 5 } })
    }))
})
