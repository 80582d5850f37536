/** An HTTP(S) server on 127.0.0.1 for tests: each path answers as its route says, faults included. */
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

export type Route =
  | { readonly status: number; readonly body: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly hang: true }
  | { readonly reset: true }
  /** The body in pieces with no Content-Length, so only a cap on what streams in can stop it. */
  | { readonly chunks: ReadonlyArray<string> }

export interface ServeOptions {
  /** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string }
}

export const serve = (routes: Readonly<Record<string, Route>>, options: ServeOptions = {}) =>
  Effect.acquireRelease(
    Effect.async<{ base: string; port: number; server: http.Server; hits: Map<string, number> }>((resume) => {
      const hits = new Map<string, number>()
      const handler: http.RequestListener = (req, res) => {
        const path = req.url ?? "/"
        hits.set(path, (hits.get(path) ?? 0) + 1)
        const route = routes[path]
        if (route === undefined) return void res.writeHead(404).end("not found")
        if ("hang" in route) return
        if ("reset" in route) return void req.socket.destroy()
        if ("chunks" in route) {
          res.writeHead(200, { "content-type": "text/plain" })
          for (const chunk of route.chunks) res.write(chunk)
          return void res.end()
        }
        res.writeHead(route.status, { "content-type": "text/plain", ...route.headers }).end(route.body)
      }
      const server = options.tls === undefined ? http.createServer(handler) : https.createServer(options.tls, handler)
      const scheme = options.tls === undefined ? "http" : "https"
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ base: `${scheme}://127.0.0.1:${port}`, port, server, hits }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A loopback port with nothing listening on it. */
export const closedPort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})
