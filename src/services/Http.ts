/**
 * HTTP GET of small text documents, with a timeout, a body size cap, and retries
 * with exponential backoff and jitter on network errors and 5xx — never on 4xx,
 * and not when the server asked (`Retry-After`) for a longer pause than the backoff's.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

export class HttpError extends Data.TaggedError("HttpError")<{
  readonly url: string
  readonly reason: "Status" | "Network" | "Timeout" | "TooLarge" | "Redirect" | "Tls" | "Proxy" | "Url"
  readonly detail: string
  readonly status?: number
  /** How long the server asked to be left alone (`Retry-After` on 429 or 503), in milliseconds. */
  readonly retryAfterMillis?: number
}> {
  override get message(): string {
    return `GET ${this.url}: ${this.detail}`
  }
}

export interface HttpShape {
  readonly getText: (url: string) => Effect.Effect<string, HttpError>
}

export class Http extends Context.Tag("cloudbackup-updater/Http")<Http, HttpShape>() {}

export interface Response {
  readonly status: number
  readonly body: string
  /** The raw `Retry-After` header, if the server sent one. */
  readonly retryAfter?: string | undefined
}

/** One request, no retry: what a live layer provides. It enforces `maxBytes` itself. */
export type Transport = (url: string, limits: { readonly maxBytes: number }) => Effect.Effect<Response, HttpError>

export interface HttpOptions {
  readonly timeout: Duration.DurationInput
  readonly maxBytes: number
  readonly retries: number
  readonly firstBackoff: Duration.DurationInput
}

export const defaultOptions: HttpOptions = {
  timeout: Duration.seconds(30),
  maxBytes: 1024 * 1024,
  retries: 4,
  firstBackoff: Duration.seconds(1)
}

/** The longest pause a `Retry-After` is taken at; a longer one is cut to this. */
export const maxRetryAfter = Duration.hours(24)

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds from `now`, bounded to [0, 24 h]. */
export const parseRetryAfter = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const value = header.trim()
  const millis = /^\d+$/.test(value)
    ? Number(value) * 1000
    : /[a-z]/i.test(value)
    ? Date.parse(value) - now
    : Number.NaN
  if (Number.isNaN(millis)) return undefined
  return Math.min(Math.max(0, millis), Duration.toMillis(maxRetryAfter))
}

export const isRetryable = (error: HttpError): boolean =>
  error.reason === "Network" || error.reason === "Timeout" || (error.status !== undefined && error.status >= 500)

const JITTER = { min: 0.8, max: 1.2 }

export const retrySchedule = (options: Pick<HttpOptions, "retries" | "firstBackoff">) =>
  Schedule.exponential(options.firstBackoff).pipe(
    Schedule.jitteredWith(JITTER),
    Schedule.intersect(Schedule.recurs(options.retries)),
    // A retry honours Retry-After only if even the shortest jittered wait is at least as long.
    Schedule.check((error: HttpError, [backoff]) =>
      isRetryable(error) &&
      (error.retryAfterMillis === undefined || error.retryAfterMillis <= JITTER.min * Duration.toMillis(backoff))
    )
  )

const statusError = (url: string, response: Response) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const retryAfterMillis = response.status === 429 || response.status === 503
      ? parseRetryAfter(response.retryAfter, now)
      : undefined
    const detail = `HTTP status ${response.status}`
    return new HttpError(
      retryAfterMillis === undefined
        ? { url, reason: "Status", status: response.status, detail }
        : {
          url,
          reason: "Status",
          status: response.status,
          detail: `${detail}, retry after ${Duration.format(Duration.seconds(Math.ceil(retryAfterMillis / 1000)))}`,
          retryAfterMillis
        }
    )
  })

export const make = (transport: Transport, options: HttpOptions = defaultOptions): HttpShape => ({
  getText: (url) =>
    transport(url, { maxBytes: options.maxBytes }).pipe(
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () =>
          new HttpError({ url, reason: "Timeout", detail: `no answer within ${Duration.format(options.timeout)}` })
      }),
      Effect.flatMap((response) =>
        response.status >= 200 && response.status < 300
          ? Effect.succeed(response.body)
          : Effect.flatMap(statusError(url, response), Effect.fail)
      ),
      Effect.tapError((error) =>
        isRetryable(error) ? Effect.logDebug(`${error.message}; retrying if attempts remain`) : Effect.void
      ),
      Effect.retry(retrySchedule(options))
    )
})
