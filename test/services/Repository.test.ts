import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeHttp from "../../src/layers/NodeHttp.js"
import { Repository } from "../../src/services/Repository.js"
import * as RepositoryModule from "../../src/services/Repository.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"
import { closedPort, type Route, serve } from "../support/FaultyServer.js"
import { REPOSITORY_KEY } from "../support/OpenPgpKeys.js"

const KEY = REPOSITORY_KEY
// Plain http URLs pass the repository policy only because the test server's base is plain http too.
const REPO = "[drivesrvr]\nname=agent\nbaseurl=http://127.0.0.1/redhat/\ngpgcheck=1\ngpgkey=http://127.0.0.1/redhat/RPM-GPG-KEY\n"

const fastHttp = NodeHttp.layer({
  timeout: Duration.millis(300),
  maxBytes: 1024,
  retries: 1,
  firstBackoff: Duration.millis(10)
})

const repositoryAt = (base: string) =>
  RepositoryModule.layer.pipe(Layer.provide(Layer.merge(fastHttp, UpdaterConfig.layer({ repository: base }))))

const read = <A>(routes: Record<string, Route>, f: (repository: typeof Repository.Service) => Effect.Effect<A, unknown>) =>
  Effect.gen(function*() {
    const server = yield* serve(routes)
    const result = yield* Effect.either(Effect.flatMap(Repository, f).pipe(Effect.provide(repositoryAt(server.base))))
    return { result, hits: server.hits, base: server.base }
  }).pipe(Effect.scoped)

const errorOf = (result: { _tag: "Left"; left: unknown } | { _tag: "Right" }) =>
  result._tag === "Left" ? (result.left as Error).message : "(no error)"

describe("Repository over the live Http layer", () => {
  it.live("reads version.txt", () =>
    Effect.gen(function*() {
      const { result } = yield* read({ "/version.txt": { status: 200, body: "1.2.0\n" } }, (r) => r.latestVersion)
      expect(result._tag === "Right" && result.right).toBe("1.2.0")
    }))

  it.live.each([
    ["empty", { status: 200, body: "" }, "body is empty"],
    ["garbage", { status: 200, body: "\x00\x01garbage" }, "\"??garbage\" is not a version (digits and dots)"],
    ["HTML", { status: 200, body: "<html><h1>Welcome</h1></html>" }, "body is HTML, not a version"],
    ["404", { status: 404, body: "nope" }, "HTTP status 404"],
    ["500", { status: 500, body: "oops" }, "HTTP status 500"],
    ["oversized", { status: 200, body: "1".repeat(5000) }, "body larger than 1024 bytes"],
    ["a hang", { hang: true }, "no answer within 300ms"],
    ["a reset connection", { reset: true }, "connection reset"]
  ] as const)("fails with a clear one-line error on %s", ([, route, detail]) =>
    Effect.gen(function*() {
      const { base, result } = yield* read({ "/version.txt": route }, (r) => r.latestVersion)
      expect(errorOf(result)).toBe(`${base}/version.txt: ${detail}`)
      expect(errorOf(result)).not.toContain("\n")
    }))

  it.live("retries a 500 once, then gives up; a 404 is asked once", () =>
    Effect.gen(function*() {
      const { hits } = yield* read(
        { "/version.txt": { status: 500, body: "" } },
        (r) => Effect.zipRight(Effect.either(r.latestVersion), Effect.either(r.yumRepoFile))
      )
      expect(hits.get("/version.txt")).toBe(2)
      expect(hits.get("/redhat/drivesrvr.repo")).toBe(1)
    }))

  it.live("names an unreachable repository", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const base = `http://127.0.0.1:${port}`
      const result = yield* Effect.either(
        Effect.flatMap(Repository, (r) => r.latestVersion).pipe(Effect.provide(repositoryAt(base)))
      )
      expect(errorOf(result)).toBe(`${base}/version.txt: connection refused`)
    }))

  it.live("accepts an armoured key and a repo file with [drivesrvr]", () =>
    Effect.gen(function*() {
      const { result } = yield* read(
        { "/debian/agentrepo.key": { status: 200, body: KEY }, "/redhat/drivesrvr.repo": { status: 200, body: REPO } },
        (r) => Effect.all([r.aptKey, r.yumRepoFile])
      )
      expect(result._tag === "Right" && result.right).toEqual([KEY, REPO])
    }))

  it.live("rejects a repo file without [drivesrvr] and a key that is not one", () =>
    Effect.gen(function*() {
      const { base, result } = yield* read(
        { "/redhat/drivesrvr.repo": { status: 200, body: "[epel]\nbaseurl=http://x/\n" } },
        (r) => r.yumRepoFile
      )
      expect(errorOf(result)).toBe(`${base}/redhat/drivesrvr.repo: no [drivesrvr] section`)
      const key = yield* read({ "/debian/agentrepo.key": { status: 200, body: "<html></html>" } }, (r) => r.aptKey)
      expect(errorOf(key.result)).toBe(`${key.base}/debian/agentrepo.key: not an ASCII-armoured OpenPGP public key`)
    }))

  it.live("reads a repo file's signing key at any http(s) URL, checked as a key; another scheme is refused unread", () =>
    Effect.gen(function*() {
      const routes = { "/redhat/RPM-GPG-KEY": { status: 200, body: KEY }, "/redhat/bad-key": { status: 200, body: "<html></html>" } }
      const good = yield* read(routes, (r) => r.signingKey(`${r.base}/redhat/RPM-GPG-KEY`))
      expect(good.result._tag === "Right" && good.result.right).toBe(KEY)
      const bad = yield* read(routes, (r) => r.signingKey(`${r.base}/redhat/bad-key`))
      expect(errorOf(bad.result)).toBe(`${bad.base}/redhat/bad-key: not an ASCII-armoured OpenPGP public key`)
      const file = yield* read(routes, (r) => r.signingKey("file:///etc/pki/rpm-gpg/RPM-GPG-KEY"))
      expect(errorOf(file.result)).toBe("file:///etc/pki/rpm-gpg/RPM-GPG-KEY: not an http:// or https:// URL")
      expect([...file.hits.keys()]).toEqual([])
    }))
})
