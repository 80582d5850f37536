import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { HttpError, make, type Response, type Transport } from "../../src/services/Http.js"

const options = { timeout: Duration.seconds(10), maxBytes: 1024, retries: 3, firstBackoff: Duration.seconds(1) }

/** A transport that answers from a script, one entry per attempt, and counts the attempts. */
const scripted = (script: ReadonlyArray<Response | HttpError | "hang">) => {
  let attempts = 0
  const transport: Transport = () =>
    Effect.suspend(() => {
      const step = script[Math.min(attempts, script.length - 1)]!
      attempts++
      if (step === "hang") return Effect.never
      return step instanceof HttpError ? Effect.fail(step) : Effect.succeed(step)
    })
  return { transport, attempts: () => attempts }
}

const refused = new HttpError({ url: "u", reason: "Network", detail: "connection refused" })

/** Runs `getText` in a fiber and moves the test clock far enough for every backoff. */
const runWithClock = (transport: Transport) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.either(make(transport, options).getText("http://repo/version.txt")))
    for (let i = 0; i < 20; i++) yield* TestClock.adjust(Duration.seconds(10))
    return yield* Fiber.join(fiber)
  })

describe("Http.make", () => {
  it.effect("returns the body of a 2xx answer", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([{ status: 200, body: "1.2.0\n" }])
      const result = yield* runWithClock(transport)
      expect(result._tag === "Right" && result.right).toBe("1.2.0\n")
      expect(attempts()).toBe(1)
    }))

  it.effect("retries network errors and 5xx, then succeeds", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([refused, { status: 503, body: "" }, { status: 200, body: "ok" }])
      const result = yield* runWithClock(transport)
      expect(result._tag).toBe("Right")
      expect(attempts()).toBe(3)
    }))

  it.effect("never retries a 4xx", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([{ status: 404, body: "not found" }])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1)
      expect(result._tag === "Left" && result.left.message).toBe("GET http://repo/version.txt: HTTP status 404")
    }))

  it.effect("does not retry an oversized body", () =>
    Effect.gen(function*() {
      const tooLarge = new HttpError({ url: "u", reason: "TooLarge", detail: "body larger than 1024 bytes" })
      const { transport, attempts } = scripted([tooLarge])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1)
      expect(result._tag === "Left" && result.left.reason).toBe("TooLarge")
    }))

  it.effect("gives up after the configured retries with the last error", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([{ status: 500, body: "" }])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1 + options.retries)
      expect(result._tag === "Left" && result.left.status).toBe(500)
    }))

  it.effect("times out an attempt that hangs, and retries it", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted(["hang"])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1 + options.retries)
      expect(result._tag === "Left" && result.left.message).toBe("GET http://repo/version.txt: no answer within 10s")
    }))

  it.effect("waits longer before each retry (exponential backoff)", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([refused])
      const fiber = yield* Effect.fork(Effect.either(make(transport, options).getText("http://repo/x")))
      const STEP = 50
      const attemptAt: Array<number> = []
      for (let at = STEP; at <= 20_000; at += STEP) {
        yield* TestClock.adjust(Duration.millis(STEP))
        while (attemptAt.length < attempts() - 1) attemptAt.push(at)
      }
      yield* Fiber.join(fiber)
      expect(attempts()).toBe(1 + options.retries)
      const gaps = attemptAt.map((t, i) => t - (i === 0 ? 0 : attemptAt[i - 1]!))
      // Jitter scales each delay by 0.8–1.2 around 1 s, 2 s, 4 s; each retry is seen within one step of it.
      const within = (gap: number, base: number) => {
        expect(gap).toBeGreaterThanOrEqual(0.8 * base - STEP)
        expect(gap).toBeLessThanOrEqual(1.2 * base + STEP)
      }
      within(gaps[0]!, 1000)
      within(gaps[1]!, 2000)
      within(gaps[2]!, 4000)
    }).pipe(Effect.withRandom(Random.make("backoff"))))
})
