/**
 * The vendor's remote agent repository: the published version and the material
 * that configures it on a host. Everything it returns has been checked.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { aptKeyProblem } from "../domain/AptSources.js"
import { parseVersionTxt } from "../domain/Version.js"
import { yumRepoProblem } from "../domain/YumRepoFile.js"
import { Http } from "./Http.js"
import { UpdaterConfig } from "./UpdaterConfig.js"

export class RepositoryError extends Data.TaggedError("RepositoryError")<{
  readonly url: string
  readonly detail: string
  /** The server asked not to be asked again before this long (`Retry-After`), in milliseconds. */
  readonly retryAfterMillis?: number
}> {
  override get message(): string {
    return `${this.url}: ${this.detail}`
  }
}

export interface RepositoryShape {
  readonly base: string
  /** The newest agent version named by `version.txt`. */
  readonly latestVersion: Effect.Effect<string, RepositoryError>
  /** `debian/agentrepo.key`, an ASCII-armoured public key. */
  readonly aptKey: Effect.Effect<string, RepositoryError>
  /** `redhat/drivesrvr.repo`, a repo file with a `[drivesrvr]` section. */
  readonly yumRepoFile: Effect.Effect<string, RepositoryError>
  /** The ASCII-armoured public key at `url` (a repo file's `gpgkey=`), for a package manager that does not fetch it itself. */
  readonly signingKey: (url: string) => Effect.Effect<string, RepositoryError>
}

export class Repository extends Context.Tag("cloudbackup-updater/Repository")<Repository, RepositoryShape>() {}

export const make = Effect.gen(function*() {
  const http = yield* Http
  const { repository: base } = yield* UpdaterConfig

  const fetchChecked = <A>(path: string, check: (body: string) => Either.Either<A, string>) =>
    fetchUrlChecked(`${base}/${path}`, check)

  const fetchUrlChecked = <A>(url: string, check: (body: string) => Either.Either<A, string>) => {
    if (!/^https?:\/\//.test(url)) return Effect.fail(new RepositoryError({ url, detail: "not an http:// or https:// URL" }))
    return http.getText(url).pipe(
      Effect.mapError((error) =>
        new RepositoryError(
          error.retryAfterMillis === undefined
            ? { url, detail: error.detail }
            : { url, detail: error.detail, retryAfterMillis: error.retryAfterMillis }
        )
      ),
      Effect.flatMap((body) =>
        Either.match(check(body), {
          onLeft: (detail) => Effect.fail(new RepositoryError({ url, detail })),
          onRight: Effect.succeed
        })
      )
    )
  }

  const problemToEither = (problem: (body: string) => string | undefined) => (body: string) => {
    const found = problem(body)
    return found === undefined ? Either.right(body) : Either.left(found)
  }

  /** A key is checked against the time it is fetched at: an expired key is refused. */
  const keyChecked = (fetch: (check: (body: string) => Either.Either<string, string>) => Effect.Effect<string, RepositoryError>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => fetch(problemToEither((body) => aptKeyProblem(body, new Date(now)))))

  return Repository.of({
    base,
    latestVersion: fetchChecked("version.txt", parseVersionTxt),
    aptKey: keyChecked((check) => fetchChecked("debian/agentrepo.key", check)),
    yumRepoFile: fetchChecked("redhat/drivesrvr.repo", problemToEither((body) => yumRepoProblem(body, base))),
    signingKey: (url) => keyChecked((check) => fetchUrlChecked(url, check))
  })
})

export const layer: Layer.Layer<Repository, never, Http | UpdaterConfig> = Layer.effect(Repository, make)
