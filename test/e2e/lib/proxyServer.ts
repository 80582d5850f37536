/**
 * A forwarding HTTP proxy on 127.0.0.1 (random port): CONNECT tunnels for https, absolute-URI
 * requests for plain http. It alone resolves the host names in `hosts` (e.g.
 * "agentrepo.invalid" → "127.0.0.1"), so a client can reach those names only through it; any
 * other host is answered 502. Records what it carried (the same shape as test/support/TestProxy.ts,
 * without Effect, and keeping the per-connection sockets for close()).
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as net from "node:net"

export class ProxyServer {
  /** One entry per request carried: "CONNECT host:port" or "GET http://host:port/path". */
  readonly carried: string[] = []
  private readonly sockets = new Set<Socket>()

  private constructor(private readonly server: http.Server, readonly port: number) {}

  /** `hosts`: host name → address the proxy connects to instead (the port is the request's). */
  static async start(hosts: Readonly<Record<string, string>>): Promise<ProxyServer> {
    const server = http.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    const proxy = new ProxyServer(server, (server.address() as AddressInfo).port)
    const resolveHost = (host: string): string | undefined => hosts[host.toLowerCase()]
    server.on("connection", (socket) => {
      proxy.sockets.add(socket)
      socket.on("close", () => proxy.sockets.delete(socket))
    })
    server.on("request", (req, res) => {
      proxy.carried.push(`${req.method} ${req.url}`)
      let target: URL
      try {
        target = new URL(req.url ?? "")
      } catch {
        res.writeHead(400).end("absolute URI expected\n")
        return
      }
      const address = target.protocol === "http:" ? resolveHost(target.hostname) : undefined
      if (address === undefined) {
        res.writeHead(502, { "Content-Type": "text/plain" }).end(`proxy: unknown host ${target.hostname}\n`)
        return
      }
      const headers = { ...req.headers }
      delete headers["proxy-connection"]
      delete headers["proxy-authorization"]
      const upstream = http.request(
        {
          host: address,
          port: Number(target.port || "80"),
          method: req.method,
          path: `${target.pathname}${target.search}`,
          headers
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      upstream.once("error", () => {
        if (!res.headersSent) res.writeHead(502).end("proxy: upstream failed\n")
        else res.destroy()
      })
      req.pipe(upstream)
    })
    server.on("connect", (req: http.IncomingMessage, client: Socket, head: Buffer) => {
      proxy.carried.push(`CONNECT ${req.url}`)
      proxy.sockets.add(client)
      const [host = "", port = "443"] = (req.url ?? "").split(":")
      const address = resolveHost(host)
      if (address === undefined) {
        client.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
        return
      }
      const upstream = net.connect(Number(port), address, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
        if (head.length > 0) upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      proxy.sockets.add(upstream)
      upstream.on("close", () => proxy.sockets.delete(upstream))
      upstream.once("error", () => client.destroy())
      client.once("error", () => upstream.destroy())
    })
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Requests carried for `host` (absolute URIs naming it, or CONNECTs to it). */
  carriedFor(host: string): string[] {
    return this.carried.filter((line) => line.includes(`//${host}:`) || line.startsWith(`CONNECT ${host}:`))
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
