/**
 * HTTPS for the end-to-end suite: a throwaway CA and a server certificate it signed (openssl, in
 * a directory of the test's own), and an HTTPS front on 127.0.0.1 that forwards every request
 * to a RepoServer's plain-http port — so faults, throttles and the request log of that server
 * apply over https too — except paths told to redirect.
 */
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import { execOk } from "./exec.js"

export interface TestCa {
  /** The CA certificate, PEM: what goes into a root's trust store. */
  readonly caCert: string
  readonly key: string
  readonly cert: string
}

/** A CA valid for 2 days and a server certificate for `names` (DNS) and 127.0.0.1, made in `dir`. */
export const makeCa = async (dir: string, names: ReadonlyArray<string> = ["localhost"]): Promise<TestCa> => {
  await fs.mkdir(dir, { recursive: true })
  const at = (file: string) => path.join(dir, file)
  const openssl = (...args: string[]) => execOk(["openssl", ...args], { cwd: dir })
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  await openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
    "-subj", "/CN=driveclient e2e throwaway CA", "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
  await openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${names[0] ?? "127.0.0.1"}`)
  const san = [...names.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",")
  await fs.writeFile(
    at("ext.cnf"),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`
  )
  await openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
  const read = (file: string) => fs.readFile(at(file), "utf8")
  return { caCert: await read("ca.crt"), key: await read("server.key"), cert: await read("server.crt") }
}

export class TlsFront {
  /** "GET /path" per request received (before forwarding or redirecting). */
  readonly requests: string[] = []
  private redirects: Array<{ path: string; location: string; status: number }> = []
  private readonly sockets = new Set<Duplex>()

  private constructor(private readonly server: https.Server, readonly port: number) {}

  /** Serves https on 127.0.0.1 (random port) with `ca`'s server certificate, forwarding to `backendPort`. */
  static async start(ca: TestCa, backendPort: number): Promise<TlsFront> {
    const server = https.createServer({ key: ca.key, cert: ca.cert })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    const front = new TlsFront(server, (server.address() as AddressInfo).port)
    server.on("connection", (socket) => {
      front.sockets.add(socket)
      socket.on("close", () => front.sockets.delete(socket))
    })
    // A client that rejects the certificate just drops the connection: not an error here.
    server.on("tlsClientError", () => undefined)
    server.on("request", (req, res) => {
      const urlPath = new URL(req.url ?? "/", "https://x").pathname
      front.requests.push(`${req.method} ${urlPath}`)
      const redirect = [...front.redirects].reverse().find((r) => r.path === urlPath)
      if (redirect !== undefined) {
        res.writeHead(redirect.status, { Location: redirect.location, "Content-Length": 0 }).end()
        return
      }
      const upstream = http.request(
        { host: "127.0.0.1", port: backendPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      upstream.once("error", () => {
        if (!res.headersSent) res.writeHead(502).end("front: backend failed\n")
        else res.destroy()
      })
      req.pipe(upstream)
    })
    return front
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`
  }

  /** Answers `urlPath` with a redirect to `location` (302 unless told). */
  redirect(urlPath: string, location: string, status = 302): void {
    this.redirects.push({ path: urlPath, location, status })
  }

  clearRedirects(): void {
    this.redirects = []
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
