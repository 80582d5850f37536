/**
 * HTTP GET of small text documents, with a timeout, a body size cap, and retries
 * with exponential backoff and jitter on network errors and 5xx — never on 4xx.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

export class HttpError extends Data.TaggedError("HttpError")<{
  readonly url: string
  readonly reason: "Status" | "Network" | "Timeout" | "TooLarge"
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

export const isRetryable = (error: HttpError): boolean =>
  error.reason === "Network" || error.reason === "Timeout" || (error.status !== undefined && error.status >= 500)

export const retrySchedule = (options: Pick<HttpOptions, "retries" | "firstBackoff">) =>
  Schedule.exponential(options.firstBackoff).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.retries)),
    Schedule.whileInput(isRetryable)
  )

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
          : Effect.fail(
            new HttpError({ url, reason: "Status", status: response.status, detail: `HTTP status ${response.status}` })
          )
      ),
      Effect.tapError((error) =>
        isRetryable(error) ? Effect.logDebug(`${error.message}; retrying if attempts remain`) : Effect.void
      ),
      Effect.retry(retrySchedule(options))
    )
})
