/** The count of rollbacks in the state file (the metrics' counter): an optional field, so that older files stay readable. */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeStateStore from "../../src/layers/NodeStateStore.js"
import { tempRoot } from "../support/TempRoot.js"

const stateFile = Effect.map(tempRoot, (root) => path.join(root, "state.json"))
const write = (file: string, text: string) => Effect.promise(() => fs.writeFile(file, text))

describe("rollbacksDone in the state file", () => {
  it.scoped("a file written before the count was kept is read whole, with no count", () =>
    Effect.gen(function*() {
      const file = yield* stateFile
      const older = {
        failedVersion: { version: "1.2.0", at: 1_700_000_000_000, reason: "it crashed" },
        lastCheck: { at: 1_700_000_100_000, result: "up to date (1.1.0-1)" }
      }
      yield* write(file, JSON.stringify(older))
      const store = NodeStateStore.make(file)
      expect(yield* store.get).toEqual(older)
      yield* store.update((state) => ({ ...state, rollbacksDone: (state.rollbacksDone ?? 0) + 1 }))
      expect(JSON.parse(yield* Effect.promise(() => fs.readFile(file, "utf8")))).toEqual({ ...older, rollbacksDone: 1 })
      expect((yield* store.get).rollbacksDone).toBe(1)
    }))

  it.scoped.each([["negative", -1], ["fractional", 1.5], ["text", "\"3\""]])("a count that is %s makes the file damaged, as any bad field does", ([, bad]) =>
    Effect.gen(function*() {
      const file = yield* stateFile
      yield* write(file, `{"rollbacksDone":${bad}}`)
      const state = yield* NodeStateStore.make(file).get
      expect(state.damaged?.detail).toMatch(/^rollbacksDone: /)
    }))
})
