/**
 * The staged rollout: a host waits a random time before it upgrades, drawn from
 * a gamma distribution (shape 3, scale 2 units, redrawn while >= 24 units), so
 * that about half the hosts upgrade within 6 units and 90 % within 11.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

export type DelayUnit = "hours" | "minutes"

const SHAPE = 3
const SCALE = 2
const LIMIT = 24

/** A gamma(3, 2) draw: the sum of three exponential draws of mean 2 (shape 3 is a whole number). */
const gammaDraw = Effect.gen(function*() {
  let sum = 0
  for (let i = 0; i < SHAPE; i++) {
    const uniform = yield* Random.next
    sum -= SCALE * Math.log(1 - uniform)
  }
  return sum
})

/** A draw in units, below the limit. */
export const drawUnits: Effect.Effect<number> = gammaDraw.pipe(
  Effect.repeat({ until: (units) => units < LIMIT })
)

const inUnit = (units: number, unit: DelayUnit) => Duration.millis(units * (unit === "hours" ? 3_600_000 : 60_000))

export const drawDelay = (unit: DelayUnit): Effect.Effect<Duration.Duration> => Effect.map(drawUnits, (units) => inUnit(units, unit))

/** Every drawn delay is shorter than this. */
export const maxDelay = (unit: DelayUnit): Duration.Duration => inUnit(LIMIT, unit)

/** `CLOUDBACKUP_UPDATER_DEBUG` set (to anything) makes the unit minutes. */
export const unitFromEnvironment = (env: NodeJS.ProcessEnv): DelayUnit =>
  env["CLOUDBACKUP_UPDATER_DEBUG"] === undefined ? "hours" : "minutes"
