import { describe, expect, it } from "@effect/vitest"
import { proxyFor } from "../../../src/layers/internal/ProxyRules.js"

const P = "http://proxy.lan:3128"
const at = (url: string, environment: Record<string, string>, fallback?: { http?: string; https?: string }) =>
  proxyFor(new URL(url), { environment, fallback })

describe("proxyFor (curl's rules)", () => {
  it("takes http_proxy for http and https_proxy or HTTPS_PROXY for https, never one for the other", () => {
    expect(at("http://repo.example.com/x", { http_proxy: P })).toBe(P)
    expect(at("https://repo.example.com/x", { http_proxy: P })).toBeUndefined()
    expect(at("https://repo.example.com/x", { https_proxy: P })).toBe(P)
    expect(at("https://repo.example.com/x", { HTTPS_PROXY: P })).toBe(P)
    expect(at("http://repo.example.com/x", { https_proxy: P })).toBeUndefined()
  })

  it("reads a proxy without a scheme as http://", () => {
    expect(at("https://repo.example.com/x", { https_proxy: "proxy.lan:3128" })).toBe(P)
  })

  it("skips the proxy for no_proxy hosts, their subdomains, dotted suffixes, matching ports and '*'", () => {
    const env = (no_proxy: string) => ({ https_proxy: P, no_proxy })
    expect(at("https://repo.example.com/x", env("example.com"))).toBeUndefined()
    expect(at("https://example.com/x", env("example.com"))).toBeUndefined()
    expect(at("https://badexample.com/x", env("example.com"))).toBe(P)
    expect(at("https://repo.example.com/x", env(".example.com"))).toBeUndefined()
    expect(at("https://repo.example.com/x", env("*.example.com"))).toBeUndefined()
    expect(at("https://repo.example.com/x", env("other.org, example.com:443"))).toBeUndefined()
    expect(at("https://repo.example.com:8443/x", env("example.com:443"))).toBe(P)
    expect(at("https://anything.test/x", env("*"))).toBeUndefined()
    expect(at("https://repo.example.com/x", { https_proxy: P, NO_PROXY: "example.com" })).toBeUndefined()
  })

  it("falls back to the package manager's proxy only when no variable names one, still under no_proxy", () => {
    const fallback = { http: "http://apt.lan:3142", https: "http://apt.lan:3142" }
    expect(at("https://repo.example.com/x", {}, fallback)).toBe("http://apt.lan:3142")
    expect(at("https://repo.example.com/x", { https_proxy: P }, fallback)).toBe(P)
    expect(at("https://repo.example.com/x", { no_proxy: "example.com" }, fallback)).toBeUndefined()
  })

  it("never reads this process's own environment, and leaves it as it was", () => {
    const saved = process.env["https_proxy"]
    process.env["https_proxy"] = P
    try {
      expect(at("https://repo.example.com/x", {})).toBeUndefined()
      expect(process.env["https_proxy"]).toBe(P)
    } finally {
      if (saved === undefined) delete process.env["https_proxy"]
      else process.env["https_proxy"] = saved
    }
  })
})
