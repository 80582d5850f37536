import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as NodeHttp from "../../src/layers/NodeHttp.js"
import { Http, type HttpError } from "../../src/services/Http.js"
import { closedPort, serve } from "../support/FaultyServer.js"
import { makeCa, systemRootWith } from "../support/TestCa.js"
import { proxy } from "../support/TestProxy.js"

const options = { timeout: Duration.seconds(5), maxBytes: 1024, retries: 1, firstBackoff: Duration.millis(10) }

/** An empty host root: no system CA bundle under it. */
const noSystemCa = "/nonexistent-test-root"

const get = (url: string, network: NodeHttp.NetworkOptions = { systemRoot: noSystemCa }) =>
  Effect.either(Effect.flatMap(Http, (http) => http.getText(url)).pipe(Effect.provide(NodeHttp.layer(options, network))))

const failure = (result: Either.Either<string, HttpError>): HttpError => {
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  expect(result.left.message).not.toContain("\n")
  return result.left
}

const caFor = makeCa(["agentrepo.invalid"])

describe("NodeHttp through a proxy", () => {
  it.live("reaches an http host that only the proxy resolves, through http_proxy", () =>
    Effect.gen(function*() {
      const server = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } })
      const relay = yield* proxy({ "agentrepo.invalid:80": `127.0.0.1:${server.port}` })
      const result = yield* get("http://agentrepo.invalid/version.txt", {
        systemRoot: noSystemCa,
        proxy: { environment: { http_proxy: relay.url } }
      })
      expect(result).toEqual(Either.right("1.2.0\n"))
      expect(relay.carried).toEqual(["GET http://agentrepo.invalid/version.txt"])
    }).pipe(Effect.scoped))

  it.live("tunnels https through https_proxy (CONNECT), trusting a CA found only in the system bundle", () =>
    Effect.gen(function*() {
      const ca = yield* caFor
      const server = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } }, { tls: ca })
      const relay = yield* proxy({ "agentrepo.invalid:443": `127.0.0.1:${server.port}` })
      const systemRoot = yield* systemRootWith(ca.caCert)
      for (const environment of [{ https_proxy: relay.url }, { HTTPS_PROXY: relay.url }]) {
        const result = yield* get("https://agentrepo.invalid/version.txt", { systemRoot, proxy: { environment } })
        expect(result).toEqual(Either.right("1.2.0\n"))
      }
      expect(relay.carried).toEqual(["CONNECT agentrepo.invalid:443", "CONNECT agentrepo.invalid:443"])
    }).pipe(Effect.scoped))

  it.live("uses the package manager's proxy when no variable names one", () =>
    Effect.gen(function*() {
      const server = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } })
      const relay = yield* proxy({ "agentrepo.invalid:80": `127.0.0.1:${server.port}` })
      const result = yield* get("http://agentrepo.invalid/version.txt", {
        systemRoot: noSystemCa,
        proxy: { fallback: { http: relay.url.replace("http://", "") } }
      })
      expect(result).toEqual(Either.right("1.2.0\n"))
      expect(relay.carried).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.live("honours no_proxy by port and '*', and proxies what it does not name", () =>
    Effect.gen(function*() {
      const server = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } })
      const relay = yield* proxy({ [`127.0.0.1:${server.port}`]: `127.0.0.1:${server.port}` })
      const through = (no_proxy: string) =>
        get(`${server.base}/version.txt`, { systemRoot: noSystemCa, proxy: { environment: { http_proxy: relay.url, no_proxy } } })
      expect(yield* through(`127.0.0.1:${server.port + 1},other.example`)).toEqual(Either.right("1.2.0\n"))
      expect(relay.carried).toHaveLength(1)
      expect(yield* through(`other.example, 127.0.0.1:${server.port}`)).toEqual(Either.right("1.2.0\n"))
      expect(yield* through("*")).toEqual(Either.right("1.2.0\n"))
      expect(relay.carried).toHaveLength(1)
      expect(server.hits.get("/version.txt")).toBe(3)
    }).pipe(Effect.scoped))

  it.live("names the proxy when it cannot be reached, and refuses a proxy that is not http(s)", () =>
    Effect.gen(function*() {
      const refused = failure(
        yield* get("http://agentrepo.invalid/version.txt", {
          systemRoot: noSystemCa,
          proxy: { environment: { http_proxy: "http://user:secret@127.0.0.1:1" } }
        })
      )
      expect(refused.message).toBe(
        "GET http://agentrepo.invalid/version.txt: connection refused (via proxy http://127.0.0.1:1)"
      )
      const socks = failure(
        yield* get("https://agentrepo.invalid/version.txt", {
          systemRoot: noSystemCa,
          proxy: { environment: { https_proxy: "socks5://127.0.0.1:1080" } }
        })
      )
      expect(socks.reason).toBe("Proxy")
      expect(socks.detail).toBe("proxy socks5://127.0.0.1:1080 is not an http:// or https:// URL")
    }))
})

describe("NodeHttp and the system CA bundle", () => {
  it.live("trusts a CA from the first bundle that exists under the root, and says so plainly without it", () =>
    Effect.gen(function*() {
      const ca = yield* caFor
      const server = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } }, { tls: ca })
      for (const relative of ["etc/ssl/certs/ca-certificates.crt", "etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/ca-bundle.pem"]) {
        const systemRoot = yield* systemRootWith(ca.caCert, relative)
        expect(yield* get(`${server.base}/version.txt`, { systemRoot })).toEqual(Either.right("1.2.0\n"))
      }
      const untrusted = failure(yield* get(`${server.base}/version.txt`))
      expect(untrusted.reason).toBe("Tls")
      expect(untrusted.message).toBe(
        `GET ${server.base}/version.txt: TLS certificate not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE); is its CA in the system CA bundle?`
      )
    }).pipe(Effect.scoped))
})

describe("NodeHttp redirects", () => {
  const redirect = (location: string) => ({ status: 302, body: "", headers: { location } })

  it.live("follows up to 5 redirects; a 6th, to ftp: and to file: are each a clean Redirect error, asked once", () =>
    Effect.gen(function*() {
      const chain = Object.fromEntries(
        [1, 2, 3, 4, 5, 6].map((i) => [`/r${i}`, redirect(i === 6 ? "/version.txt" : `/r${i + 1}`)] as const)
      )
      const server = yield* serve({
        ...chain,
        "/version.txt": { status: 200, body: "1.2.0\n" },
        "/to-ftp": redirect("ftp://127.0.0.1/version.txt"),
        "/to-file": redirect("file:///etc/passwd")
      })
      expect(yield* get(`${server.base}/r2`)).toEqual(Either.right("1.2.0\n"))
      const cases = [
        ["/r1", "more than 5 redirects"],
        ["/to-ftp", "redirect to ftp://127.0.0.1/version.txt refused: only http and https are followed"],
        ["/to-file", "redirect to file:///etc/passwd refused: only http and https are followed"]
      ] as const
      for (const [path, detail] of cases) {
        const error = failure(yield* get(`${server.base}${path}`))
        expect(error.reason).toBe("Redirect")
        expect(error.message).toBe(`GET ${server.base}${path}: ${detail}`)
        expect(server.hits.get(path)).toBe(1)
      }
    }).pipe(Effect.scoped))

  it.live("refuses a redirect from https to http, asked once, the http URL never asked", () =>
    Effect.gen(function*() {
      const ca = yield* caFor
      const systemRoot = yield* systemRootWith(ca.caCert)
      const plain = yield* serve({ "/version.txt": { status: 200, body: "1.2.0\n" } })
      const secure = yield* serve({ "/to-http": redirect(`${plain.base}/version.txt`) }, { tls: ca })
      const error = failure(yield* get(`${secure.base}/to-http`, { systemRoot }))
      expect(error.reason).toBe("Redirect")
      expect(error.message).toBe(
        `GET ${secure.base}/to-http: redirect from https to ${plain.base}/version.txt refused: never from https to http`
      )
      expect(secure.hits.get("/to-http")).toBe(1)
      expect(plain.hits.get("/version.txt")).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("says where an error happened past a redirect", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const server = yield* serve({ "/moved": redirect(`http://127.0.0.1:${port}/version.txt`) })
      const error = failure(yield* get(`${server.base}/moved`))
      expect(error.message).toBe(`GET ${server.base}/moved: connection refused at http://127.0.0.1:${port}/version.txt`)
    }).pipe(Effect.scoped))
})

describe("NodeHttp answers", () => {
  it.live("caps a body that streams in without a Content-Length", () =>
    Effect.gen(function*() {
      const server = yield* serve({ "/big": { chunks: Array.from({ length: 10 }, () => "x".repeat(200)) } })
      const error = failure(yield* get(`${server.base}/big`))
      expect(error.message).toBe(`GET ${server.base}/big: body larger than 1024 bytes`)
    }).pipe(Effect.scoped))

  it.live("hands the server's Retry-After on a 429 and a 503 to the error, and retries neither", () =>
    Effect.gen(function*() {
      const server = yield* serve({
        "/busy": { status: 429, body: "", headers: { "retry-after": "120" } },
        "/down": { status: 503, body: "", headers: { "retry-after": new Date(Date.now() + 3_600_000).toUTCString() } }
      })
      const busy = failure(yield* get(`${server.base}/busy`))
      expect(busy.status).toBe(429)
      expect(busy.retryAfterMillis).toBe(120_000)
      expect(busy.message).toBe(`GET ${server.base}/busy: HTTP status 429, retry after 2m`)
      const down = failure(yield* get(`${server.base}/down`))
      expect(down.retryAfterMillis).toBeGreaterThan(3_590_000)
      expect(down.retryAfterMillis).toBeLessThanOrEqual(3_600_000)
      expect([server.hits.get("/busy"), server.hits.get("/down")]).toEqual([1, 1])
    }).pipe(Effect.scoped))

  it.live("refuses a URL that is not http(s) without a request", () =>
    Effect.gen(function*() {
      const error = failure(yield* get("ftp://127.0.0.1/version.txt"))
      expect(error.message).toBe("GET ftp://127.0.0.1/version.txt: not an http:// or https:// URL")
    }))
})
