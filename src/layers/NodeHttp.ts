/**
 * Http on @effect/platform's HttpClient over node:http(s): one GET per attempt, redirects followed
 * by policy, the body capped while it streams in, through a proxy when curl's rules say so, trusting
 * the system CA bundle as well as Node's roots.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Http, HttpError, type HttpOptions, make, type Response, type Transport } from "../services/Http.js"
import { describe, display, redirectTarget } from "./internal/HttpFailures.js"
import * as ProxyAgents from "./internal/ProxyAgents.js"
import { proxyFor, type ProxySettings, redactProxy } from "./internal/ProxyRules.js"
import * as SystemCa from "./internal/SystemCa.js"
import { parseUrl } from "../domain/Url.js"

export interface NetworkOptions {
  readonly proxy?: ProxySettings | undefined
  /** Where the system CA bundle is looked for (`etc/ssl/certs/…` under it); `/` on a live host. */
  readonly systemRoot?: string | undefined
}

const HEADERS = { "user-agent": "cloudbackup-updater", accept: "*/*" }

type Hop = Response | { readonly location: string }

const readCapped = (response: HttpClientResponse.HttpClientResponse, url: string, maxBytes: number) => {
  const tooLarge = new HttpError({ url, reason: "TooLarge", detail: `body larger than ${maxBytes} bytes` })
  if (Number(response.headers["content-length"] ?? "0") > maxBytes) return Effect.fail(tooLarge)
  return response.stream.pipe(
    Stream.mapError((error): HttpClientError.HttpClientError | HttpError => error),
    Stream.runFoldEffect({ size: 0, chunks: [] as Array<Uint8Array> }, (read, chunk) => {
      const size = read.size + chunk.length
      if (size > maxBytes) return Effect.fail(tooLarge)
      read.chunks.push(chunk)
      return Effect.succeed({ size, chunks: read.chunks })
    }),
    Effect.map((read) => Buffer.concat(read.chunks).toString("utf8"))
  )
}

const isRedirect = (status: number) => [301, 302, 303, 307, 308].includes(status)

/** The transport on agents made in the caller's scope; each request picks its proxy by the URL it asks. */
export const makeTransport = (network: NetworkOptions = {}): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ca = yield* SystemCa.trustedCas(network.systemRoot ?? "/")
    const agentsFor = yield* ProxyAgents.makeAgents(ca)

    const hop = (url: string, target: URL, maxBytes: number, redirects: number): Effect.Effect<Hop, HttpError> => {
      const proxy = proxyFor(target, network.proxy ?? {})
      // Past a redirect, an error says where it happened.
      const via = (redirects === 0 ? "" : ` at ${display(target)}`) +
        (proxy === undefined ? "" : ` (via proxy ${redactProxy(proxy)})`)
      if (proxy !== undefined && !/^https?:$/.test(parseUrl(proxy)?.protocol ?? "")) {
        return Effect.fail(
          new HttpError({ url, reason: "Proxy", detail: `proxy ${redactProxy(proxy)} is not an http:// or https:// URL` })
        )
      }
      return NodeHttpClient.make.pipe(
        Effect.provideService(NodeHttpClient.HttpAgent, agentsFor(proxy)),
        Effect.flatMap((client) => HttpClient.withScope(client).execute(HttpClientRequest.get(target, { headers: HEADERS }))),
        Effect.flatMap((response): Effect.Effect<Hop, HttpClientError.HttpClientError | HttpError> => {
          const location = response.headers["location"]
          if (isRedirect(response.status) && location !== undefined) return Effect.succeed({ location })
          return Effect.map(readCapped(response, url, maxBytes), (body) => ({
            status: response.status,
            body,
            retryAfter: response.headers["retry-after"]
          }))
        }),
        Effect.scoped,
        Effect.catchIf(
          (error): error is HttpClientError.HttpClientError => !(error instanceof HttpError),
          (error) => {
            const { detail, reason } = describe(error.cause ?? error)
            return Effect.fail(new HttpError({ url, reason, detail: `${detail}${via}` }))
          }
        )
      )
    }

    const follow = (url: string, target: URL, maxBytes: number, redirects: number): Effect.Effect<Response, HttpError> =>
      Effect.flatMap(hop(url, target, maxBytes, redirects), (answer) => {
        if (!("location" in answer)) return Effect.succeed(answer)
        const next = redirectTarget(target, answer.location, redirects)
        return typeof next === "string"
          ? Effect.fail(new HttpError({ url, reason: "Redirect", detail: next }))
          : follow(url, next, maxBytes, redirects + 1)
      })

    return (url, limits) => {
      const target = parseUrl(url)
      if (target === undefined || (target.protocol !== "http:" && target.protocol !== "https:")) {
        return Effect.fail(new HttpError({ url, reason: "Url", detail: "not an http:// or https:// URL" }))
      }
      return follow(url, target, limits.maxBytes, 0).pipe(
        // Whatever else throws under node:http is this request's failure, never the daemon's end.
        Effect.catchAllDefect((defect) =>
          Effect.fail(new HttpError({ url, reason: "Network", detail: `request failed: ${describe(defect).detail}` }))
        )
      )
    }
  })

export const layer = (options?: HttpOptions, network?: NetworkOptions): Layer.Layer<Http> =>
  Layer.scoped(Http, Effect.map(makeTransport(network), (transport) => make(transport, options)))
