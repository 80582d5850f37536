/**
 * Which proxy, if any, carries a request: curl's rules over the variables the composition root
 * read (`http_proxy` in lower case only, `https_proxy`/`HTTPS_PROXY`, `no_proxy`/`NO_PROXY`),
 * then the package manager's proxy when no variable names one.
 */
import type { Url } from "node:url"
import { getProxyForUrl } from "proxy-from-env"

export interface ProxyEnvironment {
  readonly http_proxy?: string | undefined
  readonly https_proxy?: string | undefined
  readonly HTTPS_PROXY?: string | undefined
  readonly no_proxy?: string | undefined
  readonly NO_PROXY?: string | undefined
}

/** The package manager's proxies (apt `Acquire::http(s)::Proxy`, dnf `proxy=`), used when no variable is set. */
export interface FallbackProxy {
  readonly http?: string | undefined
  readonly https?: string | undefined
}

export interface ProxySettings {
  readonly environment?: ProxyEnvironment | undefined
  readonly fallback?: FallbackProxy | undefined
}

const present = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value.trim()

/** curl reads a proxy without a scheme as `http://`; proxy-from-env would take the request's scheme. */
const withScheme = (proxy: string | undefined): string | undefined =>
  proxy === undefined ? undefined : proxy.includes("://") ? proxy : `http://${proxy}`

/** curl matches `example.com` against the host and its subdomains; proxy-from-env only the host unless it starts with a dot. */
const curlNoProxy = (list: string | undefined): string | undefined =>
  list === undefined
    ? undefined
    : list
      .split(/[,\s]+/)
      .filter((entry) => entry !== "")
      .flatMap((entry) => /^[.*]/.test(entry) ? [entry] : [entry, `.${entry}`])
      .join(",")

/** The variables proxy-from-env sees: only those curl honours, nothing of this process's own environment. */
const rulesEnvironment = (settings: ProxySettings): Record<string, string> => {
  const env = settings.environment ?? {}
  const entries: Array<[string, string | undefined]> = [
    ["http_proxy", withScheme(present(env.http_proxy) ?? present(settings.fallback?.http))],
    [
      "https_proxy",
      withScheme(present(env.https_proxy) ?? present(env.HTTPS_PROXY) ?? present(settings.fallback?.https))
    ],
    ["no_proxy", curlNoProxy(present(env.no_proxy) ?? present(env.NO_PROXY))]
  ]
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined))
}

/**
 * The proxy URL for `url`, or undefined to connect directly. proxy-from-env reads `process.env`, so it
 * is shown a stand-in for the length of one synchronous call: nothing else runs meanwhile.
 */
export const proxyFor = (url: URL, settings: ProxySettings): string | undefined => {
  const saved = process.env
  process.env = rulesEnvironment(settings)
  try {
    // The fields it reads, not the string: it would parse that with url.parse(), deprecated at run time on Node 24.
    return present(getProxyForUrl({ protocol: url.protocol, host: url.host, port: url.port } as Url))
  } finally {
    process.env = saved
  }
}

/** A proxy URL fit for a log line: the credentials left out. */
export const redactProxy = (proxy: string): string => {
  try {
    const parsed = new URL(proxy)
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    return "(unparsable proxy URL)"
  }
}
