/** Http on node:http and node:https: one GET per attempt, the body capped while it streams in. */
import * as http from "node:http"
import * as https from "node:https"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Http, HttpError, type HttpOptions, make, type Transport } from "../services/Http.js"

const MAX_REDIRECTS = 5

export const transport: Transport = (url, limits) => request(url, limits.maxBytes, MAX_REDIRECTS)

const request = (
  url: string,
  maxBytes: number,
  redirectsLeft: number
): Effect.Effect<{ status: number; body: string }, HttpError> =>
  Effect.async((settle) => {
    let settled = false
    const resume = (result: Effect.Effect<{ status: number; body: string }, HttpError>) => {
      if (settled) return
      settled = true
      settle(result)
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return resume(Effect.fail(new HttpError({ url, reason: "Network", detail: "not a valid URL" })))
    }
    const client = parsed.protocol === "https:" ? https : http
    const req = client.get(parsed, { headers: { "user-agent": "cloudbackup-updater", accept: "*/*" } }, (res) => {
      const status = res.statusCode ?? 0
      const location = res.headers.location
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume()
        if (redirectsLeft === 0) {
          return resume(Effect.fail(new HttpError({ url, reason: "Network", detail: "too many redirects" })))
        }
        return resume(request(new URL(location, parsed).toString(), maxBytes, redirectsLeft - 1))
      }
      const declared = Number(res.headers["content-length"] ?? "0")
      if (declared > maxBytes) {
        resume(Effect.fail(tooLarge(url, maxBytes)))
        return res.destroy()
      }
      const chunks: Array<Buffer> = []
      let received = 0
      res.on("data", (chunk: Buffer) => {
        received += chunk.length
        if (received > maxBytes) {
          resume(Effect.fail(tooLarge(url, maxBytes)))
          return res.destroy()
        }
        chunks.push(chunk)
      })
      res.once("end", () => resume(Effect.succeed({ status, body: Buffer.concat(chunks).toString("utf8") })))
      res.once("error", (error) =>
        resume(Effect.fail(new HttpError({ url, reason: "Network", detail: `connection broken: ${error.message}` }))))
      res.once("aborted", () =>
        resume(Effect.fail(new HttpError({ url, reason: "Network", detail: "connection closed before the end" }))))
    })
    req.once("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.fail(new HttpError({ url, reason: "Network", detail: networkDetail(error) }))))
    return Effect.sync(() => req.destroy())
  })

const tooLarge = (url: string, maxBytes: number) =>
  new HttpError({ url, reason: "TooLarge", detail: `body larger than ${maxBytes} bytes` })

const networkDetail = (error: NodeJS.ErrnoException): string => {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host not found (${error.code})`
    case "ECONNRESET":
      return "connection reset"
    default:
      return error.code ?? error.message
  }
}

export const layer = (options?: HttpOptions): Layer.Layer<Http> => Layer.succeed(Http, make(transport, options))
