/**
 * A forwarding proxy on 127.0.0.1: CONNECT tunnels for https, absolute-URI requests for plain http.
 * It alone resolves the names in `hosts` ("agentrepo.invalid:443" → "127.0.0.1:8443"), and it
 * records what it carried.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import * as Effect from "effect/Effect"

export interface TestProxy {
  readonly url: string
  /** One entry per request carried: "CONNECT host:port" or "GET http://host/path". */
  readonly carried: Array<string>
}

export const proxy = (hosts: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.async<TestProxy & { server: http.Server; sockets: Set<net.Socket> }>((resume) => {
      const carried: Array<string> = []
      const sockets = new Set<net.Socket>()
      const resolve = (hostPort: string): { host: string; port: number } | undefined => {
        const mapped = hosts[hostPort]
        if (mapped === undefined) return undefined
        const [host, port] = mapped.split(":")
        return { host: host!, port: Number(port) }
      }
      const server = http.createServer((req, res) => {
        carried.push(`${req.method} ${req.url}`)
        const target = new URL(req.url ?? "")
        const to = resolve(`${target.hostname}:${target.port || "80"}`)
        if (to === undefined) return void res.writeHead(502).end("unknown host")
        const upstream = http.request(
          { host: to.host, port: to.port, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          }
        )
        upstream.once("error", () => res.writeHead(502).end("upstream failed"))
        req.pipe(upstream)
      })
      server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        carried.push(`CONNECT ${req.url}`)
        sockets.add(client)
        const to = resolve(req.url ?? "")
        if (to === undefined) return void client.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
        const upstream = net.connect(to.port, to.host, () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          upstream.write(head)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        sockets.add(upstream)
        upstream.once("error", () => client.destroy())
        client.once("error", () => upstream.destroy())
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          carried,
          server,
          sockets
        })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
