import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { aptKeyProblem, isAgentEntry, parseSources, withSignedBy } from "../../src/domain/AptSources.js"
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

describe("withSignedBy", () => {
  const KEYRING = "/etc/apt/keyrings/driveclient.asc"
  const URI = "https://agentrepo.example.test/debian/"
  const moved = (file: string, text: string, uri = URI) => withSignedBy(file, text, uri, "serveragent", KEYRING)
  const LIST = "/etc/apt/sources.list"
  const SOURCES = "/etc/apt/sources.list.d/agent.sources"

  it("a one-line entry without an options block gets one", () => {
    expect(moved(LIST, "deb https://agentrepo.example.test/debian/ serveragent main\n")).toEqual(
      Either.right(`deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main\n`)
    )
  })

  it("an options block gets the option added, arch= and its spacing kept", () => {
    expect(moved(LIST, "deb [arch=amd64] https://agentrepo.example.test/debian serveragent main\n")).toEqual(
      Either.right(`deb [arch=amd64 signed-by=${KEYRING}] https://agentrepo.example.test/debian serveragent main\n`)
    )
    expect(moved(LIST, "deb\t[ arch=amd64 trusted=no ]  https://agentrepo.example.test/debian serveragent main # agent\n")).toEqual(
      Either.right(`deb\t[ arch=amd64 trusted=no signed-by=${KEYRING} ]  https://agentrepo.example.test/debian serveragent main # agent\n`)
    )
  })

  it("only the agent's entry changes among several; comments, blank lines, deb-src of other sources and the last line without an end stay as they were", () => {
    const before = [
      "# deb https://agentrepo.example.test/debian/ serveragent main",
      "deb http://deb.debian.org/debian bookworm main",
      "",
      "deb https://agentrepo.example.test/debian/ serveragent-testing main",
      "deb https://agentrepo.example.test/debian/ serveragent main contrib",
      "deb http://agentrepo.example.test/debian/ serveragent main",
      "deb-src http://deb.debian.org/debian bookworm main",
      "  deb [arch=amd64] https://mirror.example.test/debian serveragent main"
    ]
    const after = [...before]
    after[4] = `deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main contrib`
    expect(moved(LIST, before.join("\n"))).toEqual(Either.right(after.join("\n")))
  })

  it("a deb-src line of the source is moved too (apt holds deb and deb-src of one source to one signed-by)", () => {
    const text = "deb https://agentrepo.example.test/debian serveragent main\ndeb-src https://agentrepo.example.test/debian/ serveragent main\n"
    expect(moved(LIST, text)).toEqual(Either.right(
      `deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian serveragent main\ndeb-src [signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main\n`
    ))
  })

  it("CRLF line ends are kept on every line", () => {
    const text = "# agent\r\ndeb [arch=amd64] https://agentrepo.example.test/debian/ serveragent main\r\ndeb http://deb.debian.org/debian bookworm main\r\n"
    expect(moved(LIST, text)).toEqual(Either.right(
      `# agent\r\ndeb [arch=amd64 signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main\r\ndeb http://deb.debian.org/debian bookworm main\r\n`
    ))
  })

  it("a deb822 stanza gets a Signed-By field; the other stanzas, comments and blank lines stay as they were", () => {
    const debian = "# Debian\nTypes: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
    const agent = "Types: deb\nURIs: https://agentrepo.example.test/debian\n# the backup agent\nSuites: serveragent\nComponents: main\nArchitectures: amd64\n"
    const disabled = "Types: deb\nURIs: https://agentrepo.example.test/debian/\nSuites: serveragent\nComponents: main\nEnabled: no\n"
    expect(moved(SOURCES, `${debian}\n\n${agent}\n${disabled}`)).toEqual(
      Either.right(`${debian}\n\n${agent}Signed-By: ${KEYRING}\n\n${disabled}`)
    )
  })

  it("a deb822 file with CRLF line ends, the stanza last and without a final line end", () => {
    const debian = "Types: deb\r\nURIs: http://deb.debian.org/debian\r\nSuites: bookworm\r\nComponents: main\r\n"
    const agent = "Types: deb deb-src\r\nURIs: https://agentrepo.example.test/debian/\r\nSuites: serveragent\r\nComponents: main"
    expect(moved(SOURCES, `${debian}\r\n${agent}`)).toEqual(Either.right(`${debian}\r\n${agent}\r\nSigned-By: ${KEYRING}`))
  })

  it("an entry that already names the keyring is left alone", () => {
    const line = `deb [signed-by=${KEYRING}] https://agentrepo.example.test/debian/ serveragent main\n`
    expect(moved(LIST, line)).toEqual(Either.right(line))
    const stanza = `Types: deb\nURIs: ${URI}\nSuites: serveragent\nComponents: main\nSigned-By: ${KEYRING}\n`
    expect(moved(SOURCES, stanza)).toEqual(Either.right(stanza))
  })

  it.each([
    [
      "a one-line entry with another signed-by",
      LIST,
      "deb [signed-by=/etc/apt/keyrings/vendor.gpg] https://agentrepo.example.test/debian/ serveragent main\n",
      "its entry uses /etc/apt/keyrings/vendor.gpg"
    ],
    [
      "a legacy deb line beside a deb-src line with another signed-by",
      LIST,
      "deb https://agentrepo.example.test/debian/ serveragent main\ndeb-src [signed-by=/k.gpg] https://agentrepo.example.test/debian/ serveragent main\n",
      "its entry uses /k.gpg"
    ],
    [
      "a deb822 stanza with another Signed-By",
      SOURCES,
      `Types: deb\nURIs: ${URI}\nSuites: serveragent\nSigned-By: /etc/apt/keyrings/vendor.gpg\n`,
      "its entry uses /etc/apt/keyrings/vendor.gpg"
    ],
    [
      "a deb822 stanza with an inline key",
      SOURCES,
      `Types: deb\nURIs: ${URI}\nSuites: serveragent\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n -----END PGP PUBLIC KEY BLOCK-----\n`,
      "its entry uses an inline key"
    ],
    [
      "a deb822 stanza shared with another repository",
      SOURCES,
      `Types: deb\nURIs: ${URI} http://deb.debian.org/debian\nSuites: serveragent\n`,
      "its stanza names other repositories or suites as well"
    ],
    [
      "a deb822 stanza shared with another suite",
      SOURCES,
      `Types: deb\nURIs: ${URI}\nSuites: serveragent serveragent-testing\n`,
      "its stanza names other repositories or suites as well"
    ],
    ["no entry for the source (commented out)", LIST, `# deb ${URI} serveragent main\n`, `it holds no entry for ${URI} serveragent`],
    ["a one-line file read as deb822 holds no stanza of it", SOURCES, `deb ${URI} serveragent main\n`, `it holds no entry for ${URI} serveragent`]
  ])("%s: not changed, and why", (_, file, text, why) => {
    expect(moved(file, text)).toEqual(Either.left(why))
  })

  it("the rewritten entry reads back as the same source, naming the keyring", () => {
    const text = "deb [arch=amd64] http://agentrepo.example.test/debian serveragent main\r\n"
    const rewritten = Either.getOrThrow(moved(LIST, text, "http://agentrepo.example.test/debian"))
    expect(parseSources(LIST, rewritten)).toEqual([
      { uri: "http://agentrepo.example.test/debian", suite: "serveragent", signedBy: KEYRING }
    ])
  })
})
