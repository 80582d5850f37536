import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { HttpError, make, parseRetryAfter, type Response, type Transport } from "../../src/services/Http.js"

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

  it.effect("does not retry a 429, and hands its Retry-After (seconds) to the error", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([{ status: 429, body: "", retryAfter: "120" }])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1)
      expect(result._tag === "Left" && result.left.retryAfterMillis).toBe(120_000)
      expect(result._tag === "Left" && result.left.message).toBe("GET http://repo/version.txt: HTTP status 429, retry after 2m")
    }))

  it.effect("does not retry a 503 whose Retry-After (an HTTP date) is longer than the backoff", () =>
    Effect.gen(function*() {
      // The test clock starts at the epoch: ten minutes from now.
      const { transport, attempts } = scripted([{ status: 503, body: "", retryAfter: "Thu, 01 Jan 1970 00:10:00 GMT" }])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(1)
      expect(result._tag === "Left" && result.left.retryAfterMillis).toBe(600_000)
    }))

  it.effect("retries a 503 whose Retry-After fits within the backoff", () =>
    Effect.gen(function*() {
      const { transport, attempts } = scripted([{ status: 503, body: "", retryAfter: "0" }, { status: 200, body: "ok" }])
      const result = yield* runWithClock(transport)
      expect(attempts()).toBe(2)
      expect(result._tag).toBe("Right")
    }))

  it.effect("never retries a refused redirect, an untrusted certificate, a bad proxy or URL", () =>
    Effect.gen(function*() {
      for (const reason of ["Redirect", "Tls", "Proxy", "Url"] as const) {
        const { transport, attempts } = scripted([new HttpError({ url: "u", reason, detail: "no" })])
        const result = yield* runWithClock(transport)
        expect(attempts()).toBe(1)
        expect(result._tag === "Left" && result.left.reason).toBe(reason)
      }
    }))
})

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z")
  it("reads delay-seconds and HTTP dates, bounded to 0…24 h", () => {
    expect(parseRetryAfter("30", now)).toBe(30_000)
    expect(parseRetryAfter(" 30 ", now)).toBe(30_000)
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:05:00 GMT", now)).toBe(300_000)
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0)
    expect(parseRetryAfter("99999999", now)).toBe(24 * 3_600_000)
    expect(parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", now)).toBe(24 * 3_600_000)
  })
  it("ignores what is neither", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter("-5", now)).toBeUndefined()
    expect(parseRetryAfter("1.5", now)).toBeUndefined()
    expect(parseRetryAfter("", now)).toBeUndefined()
  })
})
