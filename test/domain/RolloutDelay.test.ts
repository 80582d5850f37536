import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { drawDelay, unitFromEnvironment } from "../../src/domain/RolloutDelay.js"

const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.floor(q * (sorted.length - 1))]!

const draws = (unit: "hours" | "minutes", seed: string) =>
  Effect.replicateEffect(drawDelay(unit), 10_000).pipe(
    Effect.map((delays) => delays.map(Duration.toMillis).sort((a, b) => a - b)),
    Effect.withRandom(Random.make(seed))
  )

describe("rollout delay", () => {
  it.effect.each([["hours", 3_600_000], ["minutes", 60_000]] as const)(
    "10,000 draws in %s: median 5.1–5.6, 90th percentile 10.2–11.0, none at 24 or more",
    ([unit, millisPerUnit]) =>
      Effect.gen(function*() {
        const sorted = (yield* draws(unit, "rollout")).map((ms) => ms / millisPerUnit)
        expect(quantile(sorted, 0.5)).toBeGreaterThanOrEqual(5.1)
        expect(quantile(sorted, 0.5)).toBeLessThanOrEqual(5.6)
        expect(quantile(sorted, 0.9)).toBeGreaterThanOrEqual(10.2)
        expect(quantile(sorted, 0.9)).toBeLessThanOrEqual(11.0)
        expect(sorted.at(-1)!).toBeLessThan(24)
        expect(sorted[0]!).toBeGreaterThan(0)
      })
  )

  it.effect("the same seed draws the same delays; another seed does not", () =>
    Effect.gen(function*() {
      const a = yield* draws("hours", "one")
      const b = yield* draws("hours", "one")
      const c = yield* draws("hours", "two")
      expect(a).toEqual(b)
      expect(a).not.toEqual(c)
    }))

  it("CLOUDBACKUP_UPDATER_DEBUG set, to anything, makes the unit minutes", () => {
    expect(unitFromEnvironment({})).toBe("hours")
    expect(unitFromEnvironment({ CLOUDBACKUP_UPDATER_DEBUG: "" })).toBe("minutes")
    expect(unitFromEnvironment({ CLOUDBACKUP_UPDATER_DEBUG: "1" })).toBe("minutes")
  })
})
