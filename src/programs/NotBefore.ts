/**
 * The repository's `Retry-After` (on HTTP 429 or 503), kept in the state file as a not-before time
 * that the daemon, the one-shot and `status` honour: no request goes to the repository before it.
 * It is bounded: a wait longer than a day is kept as a day, and a time found further ahead than
 * that (a clock that was wrong when it was set) is ignored.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { RepositoryError } from "../services/Repository.js"
import { type NotBefore, StateStore, type UpdaterState } from "../services/StateStore.js"

export const MAX_AHEAD = Duration.hours(24)

/** Date covers ±8.64e15 ms; a damaged state file may hold a time beyond that. */
export const iso = (at: number) => (Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : `${at} ms since the epoch`)

export const askedNotBefore = (at: number) => `the repository asked not to be asked again before ${iso(at)}`

/** A run that found the repository's not-before time still ahead, and so did not contact it. */
export class RepositoryBackoff extends Data.TaggedError("RepositoryBackoff")<{ readonly until: number }> {
  override get message(): string {
    return askedNotBefore(this.until)
  }
}

const tooFarAhead = (at: number, now: number) => at - now > Duration.toMillis(MAX_AHEAD)

/** The not-before time in effect at `now`: none when it has passed, or when it is too far ahead to be believed. */
export const inEffect = (state: UpdaterState, now: number): Option.Option<NotBefore> =>
  Option.filter(Option.fromNullable(state.notBefore), ({ at }) => at > now && !tooFarAhead(at, now))

/** The wait a repository asked for: the `retryAfterMillis` of a RepositoryError along the error's `cause` chain. */
export const retryAfterOf = (error: unknown): Option.Option<number> => {
  const seen = new Set<unknown>()
  for (let e = error; typeof e === "object" && e !== null && !seen.has(e); e = (e as { readonly cause?: unknown }).cause) {
    seen.add(e)
    if (e instanceof RepositoryError && e.retryAfterMillis !== undefined) return Option.some(e.retryAfterMillis)
  }
  return Option.none()
}

/** The not-before time a pass that failed at `now` with `error` leaves, if the repository asked for a wait. */
export const afterFailure = (error: { readonly message: string }, now: number): Option.Option<NotBefore> =>
  retryAfterOf(error).pipe(
    Option.filter((wait) => Number.isFinite(wait) && wait > 0),
    Option.map((wait) => ({ at: now + Math.min(wait, Duration.toMillis(MAX_AHEAD)), reason: error.message }))
  )

/** Fails while the repository's not-before time is ahead; one too far ahead is ignored, with a warning. */
export const check = Effect.gen(function*() {
  const state = yield* (yield* StateStore).get
  const now = yield* Clock.currentTimeMillis
  const found = inEffect(state, now)
  if (Option.isSome(found)) return yield* new RepositoryBackoff({ until: found.value.at })
  if (state.notBefore !== undefined && tooFarAhead(state.notBefore.at, now)) {
    yield* Effect.logWarning(
      `${askedNotBefore(state.notBefore.at)}, more than ${Duration.format(MAX_AHEAD)} ahead: ignoring it`
    )
  }
})
