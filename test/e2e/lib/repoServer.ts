/**
 * Serves a published repository tree on 127.0.0.1 (random port), with per-path faults and
 * bandwidth throttling, and records every request (with ms timestamps on the host clock, the
 * same clock the fixture agent's event log uses).
 */
import * as fs from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as path from "node:path"

export type Fault =
  /** Answers with this status (and a short plain-text body). */
  | { readonly kind: "status"; readonly status: number }
  /** Answers 200 with this body instead of the file. */
  | { readonly kind: "body"; readonly body: string | Buffer; readonly contentType: string }
  /** Reads the request, then never answers. */
  | { readonly kind: "hang" }
  /** Destroys the connection without answering. */
  | { readonly kind: "close" }

export const Faults = {
  status: (status: number): Fault => ({ kind: "status", status }),
  garbage: { kind: "body", body: "\u0000\u00ffdefinitely not a version\n", contentType: "application/octet-stream" },
  html: {
    kind: "body",
    body: "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body><p>1.2.0</p></body></html>\n",
    contentType: "text/html; charset=utf-8"
  },
  empty: { kind: "body", body: "", contentType: "text/plain" },
  hang: { kind: "hang" },
  close: { kind: "close" }
} as const satisfies Record<string, Fault | ((status: number) => Fault)>

export interface RequestRecord {
  readonly method: string
  readonly path: string
  readonly status: number | "hang" | "close"
  readonly bytes: number
  readonly startedAt: number
  /** When the last byte was handed to the socket (undefined while in flight or hanging). */
  finishedAt: number | undefined
}

type PathMatch = string | RegExp
const matches = (match: PathMatch, urlPath: string) =>
  typeof match === "string" ? match === urlPath : match.test(urlPath)

const CONTENT_TYPES: Record<string, string> = {
  ".txt": "text/plain",
  ".key": "application/pgp-keys",
  ".repo": "text/plain",
  ".xml": "application/xml",
  ".gz": "application/gzip",
  ".deb": "application/vnd.debian.binary-package",
  ".rpm": "application/x-rpm"
}

export class RepoServer {
  readonly requests: RequestRecord[] = []
  private root: string | undefined
  private faults: Array<{ match: PathMatch; fault: Fault }> = []
  private throttles: Array<{ match: PathMatch; bytesPerSecond: number }> = []
  private readonly sockets = new Set<Socket>()

  private constructor(private readonly server: http.Server, readonly port: number) {}

  static async start(): Promise<RepoServer> {
    const server = http.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    const repo = new RepoServer(server, (server.address() as AddressInfo).port)
    server.on("connection", (socket) => {
      repo.sockets.add(socket)
      socket.on("close", () => repo.sockets.delete(socket))
    })
    server.on("request", (req, res) => {
      repo.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error))
        else res.destroy()
      })
    })
    return repo
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Serves `dir` from now on (a published repository tree). */
  setRoot(dir: string): void {
    this.root = dir
  }

  /** Answers requests for `match` with `fault` (the last matching fault wins). */
  injectFault(match: PathMatch, fault: Fault): void {
    this.faults.push({ match, fault })
  }

  /** Sends responses for `match` at no more than `bytesPerSecond`. */
  throttle(match: PathMatch, bytesPerSecond: number): void {
    this.throttles.push({ match, bytesPerSecond })
  }

  clearFaults(): void {
    this.faults = []
    this.throttles = []
  }

  requestsFor(match: PathMatch): RequestRecord[] {
    return this.requests.filter((r) => matches(match, r.path))
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)
    const method = req.method ?? "GET"
    const record = (status: RequestRecord["status"], bytes: number): RequestRecord => {
      const entry: RequestRecord = { method, path: urlPath, status, bytes, startedAt: Date.now(), finishedAt: undefined }
      this.requests.push(entry)
      return entry
    }

    const fault = [...this.faults].reverse().find((f) => matches(f.match, urlPath))?.fault
    if (fault?.kind === "hang") {
      record("hang", 0)
      return
    }
    if (fault?.kind === "close") {
      record("close", 0)
      req.socket.destroy()
      return
    }
    if (fault?.kind === "status") {
      const body = `${fault.status} injected fault\n`
      const entry = record(fault.status, body.length)
      res.writeHead(fault.status, { "Content-Type": "text/plain", "Content-Length": body.length })
      res.end(method === "HEAD" ? undefined : body, () => (entry.finishedAt = Date.now()))
      return
    }

    let body: Buffer
    let contentType: string
    if (fault?.kind === "body") {
      body = Buffer.from(fault.body)
      contentType = fault.contentType
    } else {
      const file = this.resolve(urlPath)
      const content = file === undefined ? undefined : await fs.readFile(file).catch(() => undefined)
      if (content === undefined) {
        const entry = record(404, 0)
        res.writeHead(404, { "Content-Type": "text/plain", "Content-Length": 10 })
        res.end(method === "HEAD" ? undefined : "not found\n", () => (entry.finishedAt = Date.now()))
        return
      }
      body = content
      contentType = CONTENT_TYPES[path.extname(urlPath)] ?? "application/octet-stream"
    }

    const entry = record(200, body.length)
    res.writeHead(200, { "Content-Type": contentType, "Content-Length": body.length })
    if (method === "HEAD") {
      res.end(() => (entry.finishedAt = Date.now()))
      return
    }
    const throttle = [...this.throttles].reverse().find((t) => matches(t.match, urlPath))
    if (throttle === undefined) {
      res.end(body, () => (entry.finishedAt = Date.now()))
      return
    }
    await sendThrottled(res, body, throttle.bytesPerSecond)
    entry.finishedAt = Date.now()
  }

  /** Maps a URL path to a file inside the root; undefined for anything outside it. */
  private resolve(urlPath: string): string | undefined {
    if (this.root === undefined) return undefined
    const file = path.resolve(this.root, `.${path.posix.normalize(urlPath)}`)
    return file.startsWith(`${this.root}${path.sep}`) ? file : undefined
  }
}

/** Writes `body` in 50 ms slices so that no second carries more than `bytesPerSecond`. */
const sendThrottled = async (res: http.ServerResponse, body: Buffer, bytesPerSecond: number) => {
  const tick = 50
  const slice = Math.max(1, Math.floor((bytesPerSecond * tick) / 1000))
  const began = Date.now()
  for (let offset = 0; offset < body.length && !res.destroyed; offset += slice) {
    // Paced against the start, so that slow writes do not add up to a lower rate than asked.
    const due = began + (offset / bytesPerSecond) * 1000
    const wait = due - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const more = res.write(body.subarray(offset, offset + slice))
    if (!more) await drainedOrClosed(res)
  }
  if (res.destroyed) return
  await new Promise<void>((resolve) => {
    res.once("close", () => resolve())
    res.end(() => resolve())
  })
}

const drainedOrClosed = (res: http.ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resolve()
    }
    res.on("drain", done)
    res.on("close", done)
  })
