import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { aptConfAssignments, packageManagerProxy, proxyEnvironment } from "../../src/main/NetworkSettings.js"

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })))

const hostRoot = (files: Record<string, string>) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "network-settings-"))
  roots.push(root)
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), text)
  }
  return root
}

describe("proxyEnvironment", () => {
  it("keeps the variables curl reads and drops HTTP_PROXY in upper case", () => {
    expect(proxyEnvironment({ HTTP_PROXY: "http://a", http_proxy: "http://b", HTTPS_PROXY: "http://c", PATH: "/bin" }))
      .toEqual({ http_proxy: "http://b", https_proxy: undefined, HTTPS_PROXY: "http://c", no_proxy: undefined, NO_PROXY: undefined })
  })
})

describe("aptConfAssignments", () => {
  it("reads flat and nested statements, quoted URLs intact, comments skipped", () => {
    const text = [
      "// a comment",
      "Acquire::http::Proxy \"http://proxy.lan:3128/\";",
      "/* block",
      "comment */",
      "Acquire { https { Proxy \"http://tls.lan:3128\"; }; Retries \"3\"; };",
      "# Acquire::ftp::Proxy \"x\";"
    ].join("\n")
    expect([...aptConfAssignments(text)]).toEqual([
      ["acquire::http::proxy", "http://proxy.lan:3128/"],
      ["acquire::https::proxy", "http://tls.lan:3128"],
      ["acquire::retries", "3"]
    ])
  })
})

describe("packageManagerProxy", () => {
  it("takes apt's proxies, apt.conf over the parts directory and later parts over earlier ones; DIRECT is none", () => {
    const root = hostRoot({
      "etc/apt/apt.conf.d/01proxy": "Acquire::http::Proxy \"http://early:1\";\nAcquire::https::Proxy \"http://tls:2\";\n",
      "etc/apt/apt.conf.d/99proxy.conf": "Acquire::http::Proxy \"http://late:1\";\n",
      "etc/apt/apt.conf.d/50proxy.disabled": "Acquire::https::Proxy \"http://ignored:9\";\n",
      "etc/apt/apt.conf": "Acquire::https::Proxy \"DIRECT\";\n"
    })
    expect(packageManagerProxy(root)).toEqual({ http: "http://late:1", https: undefined })
  })

  it("takes dnf's [main] proxy for both schemes, with its credentials; _none_ is none", () => {
    const root = hostRoot({
      "etc/dnf/dnf.conf": "[main]\ngpgcheck=1\nproxy=http://proxy.lan:3128\nproxy_username=svc\nproxy_password=p@ss\n[other]\nproxy=http://no\n"
    })
    expect(packageManagerProxy(root)).toEqual({ http: "http://svc:p%40ss@proxy.lan:3128/", https: "http://svc:p%40ss@proxy.lan:3128/" })
    expect(packageManagerProxy(hostRoot({ "etc/dnf/dnf.conf": "[main]\nproxy=_none_\n" }))).toEqual({ http: undefined, https: undefined })
  })

  it("takes zypper's /etc/sysconfig/proxy only when enabled, and nothing from an empty root", () => {
    const on = "PROXY_ENABLED=\"yes\"\nHTTP_PROXY=\"http://suse:3128\"\nHTTPS_PROXY=\"http://suse:3129\"\n"
    expect(packageManagerProxy(hostRoot({ "etc/sysconfig/proxy": on }))).toEqual({ http: "http://suse:3128", https: "http://suse:3129" })
    const off = on.replace("yes", "no")
    expect(packageManagerProxy(hostRoot({ "etc/sysconfig/proxy": off }))).toEqual({ http: undefined, https: undefined })
    expect(packageManagerProxy(hostRoot({}))).toEqual({ http: undefined, https: undefined })
  })
})
