/** An HTTP server on 127.0.0.1 for tests: each path answers as its route says, faults included. */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

export type Route =
  | { readonly status: number; readonly body: string }
  | { readonly hang: true }
  | { readonly reset: true }

export const serve = (routes: Readonly<Record<string, Route>>) =>
  Effect.acquireRelease(
    Effect.async<{ base: string; server: http.Server; hits: Map<string, number> }>((resume) => {
      const hits = new Map<string, number>()
      const server = http.createServer((req, res) => {
        const path = req.url ?? "/"
        hits.set(path, (hits.get(path) ?? 0) + 1)
        const route = routes[path]
        if (route === undefined) return void res.writeHead(404).end("not found")
        if ("hang" in route) return
        if ("reset" in route) return void req.socket.destroy()
        res.writeHead(route.status, { "content-type": "text/plain" }).end(route.body)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits })))
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
