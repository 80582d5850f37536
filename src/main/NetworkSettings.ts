/**
 * What the live Http layer is told about the network: the proxy variables of this process, and,
 * for a daemon started without them, the proxy apt, dnf/yum or zypper is configured with — read
 * from their configuration files under `root`, not by running them.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { NetworkOptions } from "../layers/NodeHttp.js"
import type { FallbackProxy, ProxyEnvironment } from "../layers/internal/ProxyRules.js"
import { parseUrl } from "../domain/Url.js"

/** Only the variables curl honours: `HTTP_PROXY` in upper case is not one (a CGI header can set it). */
export const proxyEnvironment = (env: Readonly<Record<string, string | undefined>>): ProxyEnvironment => ({
  http_proxy: env["http_proxy"],
  https_proxy: env["https_proxy"],
  HTTPS_PROXY: env["HTTPS_PROXY"],
  no_proxy: env["no_proxy"],
  NO_PROXY: env["NO_PROXY"]
})

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** apt.conf's `name "value";` and `scope { name "value"; };` statements, keys in lower case. */
export const aptConfAssignments = (text: string): Map<string, string> => {
  const assignments = new Map<string, string>()
  const code = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/(^|\s)(\/\/|#).*$/gm, "$1")
  const scopes: Array<string> = []
  let name: string | undefined
  for (const [, quoted, word, punctuation] of code.matchAll(/"([^"]*)"|([^\s{};"]+)|([{};])/g)) {
    if (punctuation === "{") {
      if (name !== undefined) scopes.push(name)
      name = undefined
    } else if (punctuation === "}") {
      scopes.pop()
      name = undefined
    } else if (punctuation === ";") {
      name = undefined
    } else if (name === undefined && word !== undefined) {
      name = word
    } else if (name !== undefined) {
      assignments.set([...scopes, name].join("::").toLowerCase(), quoted ?? word ?? "")
      name = undefined
    }
  }
  return assignments
}

/** apt reads the parts directory first (files named like apt does, in order), then apt.conf. */
const aptProxy = (root: string): FallbackProxy => {
  const parts = path.join(root, "etc/apt/apt.conf.d")
  let names: Array<string> = []
  try {
    names = fs.readdirSync(parts).filter((file) => /^[A-Za-z0-9_.-]+$/.test(file) && /(^[^.]*|\.conf)$/.test(file)).sort()
  } catch {
    // No parts directory.
  }
  const merged = new Map<string, string>()
  for (const file of [...names.map((name) => path.join(parts, name)), path.join(root, "etc/apt/apt.conf")]) {
    for (const [key, value] of aptConfAssignments(readText(file) ?? "")) merged.set(key, value)
  }
  const proxy = (value: string | undefined) => value === undefined || /^direct$/i.test(value) ? undefined : value
  return { http: proxy(merged.get("acquire::http::proxy")), https: proxy(merged.get("acquire::https::proxy")) }
}

/** dnf.conf / yum.conf `[main]`: `proxy=`, with `proxy_username` and `proxy_password` put into the URL. */
const iniMainProxy = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined
  const main = /^\[main\][^\n]*\n([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text)?.[1] ?? ""
  const value = (key: string) => new RegExp(`^${key}\\s*=[ \\t]*(.*?)\\s*$`, "m").exec(main)?.[1]
  const proxy = value("proxy")
  const url = proxy === undefined || proxy === "" || proxy === "_none_" ? undefined : parseUrl(proxy)
  if (url === undefined) return undefined
  const username = value("proxy_username")
  if (username !== undefined && username !== "" && url.username === "") {
    url.username = encodeURIComponent(username)
    url.password = encodeURIComponent(value("proxy_password") ?? "")
  }
  return url.href
}

/** zypper's /etc/sysconfig/proxy, when `PROXY_ENABLED="yes"`. */
const sysconfigProxy = (text: string | undefined): FallbackProxy => {
  if (text === undefined) return {}
  const value = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?\\s*$`, "m").exec(text)?.[1]?.trim() || undefined
  return value("PROXY_ENABLED") === "yes" ? { http: value("HTTP_PROXY"), https: value("HTTPS_PROXY") } : {}
}

/** The first of apt, dnf, yum and zypper that names a proxy for each scheme. */
export const packageManagerProxy = (root: string): FallbackProxy => {
  const dnf = iniMainProxy(readText(path.join(root, "etc/dnf/dnf.conf")))
  const yum = iniMainProxy(readText(path.join(root, "etc/yum.conf")))
  const sources: Array<FallbackProxy> = [
    aptProxy(root),
    { http: dnf, https: dnf },
    { http: yum, https: yum },
    sysconfigProxy(readText(path.join(root, "etc/sysconfig/proxy")))
  ]
  return {
    http: sources.find((source) => source.http !== undefined)?.http,
    https: sources.find((source) => source.https !== undefined)?.https
  }
}

export const networkOptions = (env: Readonly<Record<string, string | undefined>>, root: string): NetworkOptions => ({
  systemRoot: root,
  proxy: { environment: proxyEnvironment(env), fallback: packageManagerProxy(root) }
})
