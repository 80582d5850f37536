/**
 * A read-only HTTP server on 127.0.0.1 for a few in-memory files: the agent
 * repository that `simulate` updates from, reached through the live Http layer.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

export interface EmbeddedRepository {
  readonly base: string
  readonly setFile: (path: string, body: string) => Effect.Effect<void>
  readonly requests: Effect.Effect<ReadonlyArray<string>>
}

export const serve = (files: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const contents = new Map(Object.entries(files))
    const requests: Array<string> = []
    const server = http.createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname.replace(/^\/+/, "")
      requests.push(`${req.method} /${path}`)
      const body = contents.get(path)
      if (req.method !== "GET" || body === undefined) {
        res.writeHead(req.method === "GET" ? 404 : 405, { "content-type": "text/plain" }).end("not found\n")
        return
      }
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) }).end(body)
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const repository: EmbeddedRepository = {
      base: `http://127.0.0.1:${port}`,
      setFile: (path, body) => Effect.sync(() => void contents.set(path, body)),
      requests: Effect.sync(() => [...requests])
    }
    return repository
  })
