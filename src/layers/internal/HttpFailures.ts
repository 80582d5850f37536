/** One-line descriptions of what can go wrong under an HTTP request, and the redirect policy. */
import * as HttpError from "../../services/Http.js"

/** A URL as it may appear in a message: without user info, query or fragment. */
export const display = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const messageOf = (cause: unknown): string =>
  (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!.trim()

/** What a failed connection, request or body read was, as reason and detail of an HttpError. */
export const describe = (
  cause: unknown
): { readonly reason: HttpError.HttpError["reason"]; readonly detail: string } => {
  const code = codeOf(cause)
  if (code !== undefined && TLS_CODES.has(code)) {
    return code === "ERR_TLS_CERT_ALTNAME_INVALID"
      ? { reason: "Tls", detail: `TLS certificate does not name this host (${code})` }
      : { reason: "Tls", detail: `TLS certificate not trusted (${code}); is its CA in the system CA bundle?` }
  }
  switch (code) {
    case "ECONNREFUSED":
      return { reason: "Network", detail: "connection refused" }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { reason: "Network", detail: `host not found (${code})` }
    case "ECONNRESET":
      return { reason: "Network", detail: "connection reset" }
    case "ETIMEDOUT":
      return { reason: "Network", detail: "connection timed out" }
    case undefined:
      return { reason: "Network", detail: messageOf(cause) || "request failed" }
    default:
      return { reason: "Network", detail: code }
  }
}

export const MAX_REDIRECTS = 5

/** The next URL of a redirect, or why it is not followed. */
export const redirectTarget = (from: URL, location: string, redirectsSoFar: number): URL | string => {
  if (redirectsSoFar >= MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`
  let next: URL
  try {
    next = new URL(location, from)
  } catch {
    return "redirect to a location that is not a URL"
  }
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    return `redirect to ${display(next)} refused: only http and https are followed`
  }
  if (from.protocol === "https:" && next.protocol === "http:") {
    return `redirect from https to ${display(next)} refused: never from https to http`
  }
  return next
}
