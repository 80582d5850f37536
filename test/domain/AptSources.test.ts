import { describe, expect, it } from "vitest"
import { aptKeyProblem, isAgentEntry, parseSources } from "../../src/domain/AptSources.js"
import { fixtureKey, REPOSITORY_KEY } from "../support/OpenPgpKeys.js"

const HTTPS_BASE = "https://agentrepo.example.test"
const agentEntries = (file: string, text: string, base = HTTPS_BASE) =>
  parseSources(file, text).filter((entry) => isAgentEntry(entry, base))

describe("isAgentEntry", () => {
  it("a legacy one-line http entry counts for the https default of the same host and path", () => {
    expect(agentEntries("/etc/apt/sources.list", "deb http://agentrepo.example.test/debian serveragent main\n")).toEqual([
      { uri: "http://agentrepo.example.test/debian", suite: "serveragent", signedBy: undefined }
    ])
  })

  it("and an https entry counts for a plain http -r of the same host and path", () => {
    expect(agentEntries("/etc/apt/sources.list", "deb https://agentrepo.example.test/debian/ serveragent main\n", "http://agentrepo.example.test")).toHaveLength(1)
  })

  it.each([
    ["another host", "deb http://mirror.example.test/debian serveragent main\n"],
    ["another path", "deb http://agentrepo.example.test/other serveragent main\n"],
    ["another port", "deb http://agentrepo.example.test:8080/debian serveragent main\n"],
    ["another scheme", "deb ftp://agentrepo.example.test/debian serveragent main\n"],
    ["another suite", "deb http://agentrepo.example.test/debian serveragent-testing main\n"]
  ])("%s does not count", (_, text) => {
    expect(agentEntries("/etc/apt/sources.list", text)).toEqual([])
  })
})

describe("parseSources", () => {
  it("reads a deb822 .sources file with CRLF line ends", () => {
    const text = "Types: deb\r\nURIs: https://agentrepo.example.test/debian/\r\nSuites: serveragent\r\nComponents: main\r\nSigned-By: /etc/apt/keyrings/x.asc\r\n\r\nTypes: deb\r\nURIs: https://deb.debian.org/debian\r\nSuites: bookworm\r\n"
    expect(parseSources("/etc/apt/sources.list.d/agent.sources", text)).toEqual([
      { uri: "https://agentrepo.example.test/debian/", suite: "serveragent", signedBy: "/etc/apt/keyrings/x.asc" },
      { uri: "https://deb.debian.org/debian", suite: "bookworm", signedBy: undefined }
    ])
  })

  it("reads a one-line .list file with CRLF line ends", () => {
    expect(agentEntries("/etc/apt/sources.list.d/a.list", "deb [signed-by=/k.asc] https://agentrepo.example.test/debian/ serveragent main\r\n")).toEqual([
      { uri: "https://agentrepo.example.test/debian/", suite: "serveragent", signedBy: "/k.asc" }
    ])
  })
})

describe("aptKeyProblem", () => {
  const now = new Date("2027-01-01T00:00:00Z")
  it("a real public key passes; an HTML page, a private key and an expired key do not", () => {
    expect(aptKeyProblem(REPOSITORY_KEY, now)).toBeUndefined()
    expect(aptKeyProblem("<html>oops</html>", now)).toBe("not an ASCII-armoured OpenPGP public key")
    expect(aptKeyProblem(fixtureKey("private"), now)).toBe("a private key block, not a public key")
    expect(aptKeyProblem(fixtureKey("expired"), now)).toMatch(/^the key [0-9A-F]{40} expired on 2020-06-01$/)
  })
})
