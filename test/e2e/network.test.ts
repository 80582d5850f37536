/**
 * Network and trust (issue 11), on real apt and real dnf:
 * - a repository reachable only through an HTTP proxy (a host name only the proxy resolves):
 *   install with the proxy variables (which must reach apt/dnf too), upgrade with no variable
 *   set and the proxy taken from the package manager's own setting, and no_proxy honoured;
 * - a repository over https with a throwaway CA in the root's system trust store: installs;
 *   without the CA: one line naming the certificate problem, nothing changed;
 * - a redirect from the https repository's version.txt to http: refused, nothing written;
 * - dnf: a hostile .repo (gpgcheck=0, a second section): refused, /etc/yum.repos.d unchanged;
 * - apt: the repository re-signed with a new key: the next pass fetches the key again (over
 *   https), logs the fingerprint change and upgrades.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { expectAptUpdateClean } from "./lib/aptSources.js"
import { expectCleanAfterPass, expectNoLocks, expectNoStrayProcesses } from "./lib/checks.js"
import { describeResult, type ExecResult } from "./lib/exec.js"
import {
  configurePackageManagerProxy,
  dirState,
  installCa,
  makeSigningKey,
  publishWith,
  stopGpgAgent
} from "./lib/netRepo.js"
import { PMS, upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { ProxyServer } from "./lib/proxyServer.js"
import { ROOT_ENV } from "./lib/root.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"
import { makeCa, TlsFront } from "./lib/tls.js"

/** Only the proxy resolves it (.invalid never resolves in DNS). */
const PROXY_ONLY_HOST = "agentrepo.invalid"

const run = (s: Scenario, repository: string, env: NodeJS.ProcessEnv = {}): Promise<ExecResult> =>
  s.root.start(s.updaterArgv({ repository }), { env: { ...ROOT_ENV, ...env }, timeoutMs: 150_000 }).done

const nonEmptyLines = (text: string) => text.split("\n").filter((line) => line.trim() !== "")
/** stderr without the progress lines the one-shot writes before an error ("info: configuring …"). */
const errorLines = (text: string) => nonEmptyLines(text).filter((line) => !line.startsWith("info: "))

/** Exit 1 and exactly one line on stderr, matching every pattern; that line. */
const expectOneLineFailure = (result: ExecResult, ...patterns: RegExp[]): string => {
  expect(result.code, describeResult(result)).toBe(1)
  const lines = errorLines(result.stderr)
  expect(lines, `one-line error\n${describeResult(result)}`).toHaveLength(1)
  for (const pattern of patterns) expect(lines[0], describeResult(result)).toMatch(pattern)
  return lines[0]!
}

/**
 * Node's own switch for extra CAs, pointed at the root's bundle: for the tests whose subject is
 * not the system CA handling (the redirect, the key rotation), so that an updater without it
 * still reaches the https repository and fails on the subject itself.
 */
const EXTRA_CA_ENV = (pm: string): NodeJS.ProcessEnv => ({
  NODE_EXTRA_CA_CERTS: pm === "apt" ? "/etc/ssl/certs/ca-certificates.crt" : "/etc/pki/tls/certs/ca-bundle.crt"
})

/** What the package manager fetched its metadata as (path on the repository server). */
const METADATA = { apt: "/debian/dists/serveragent/InRelease", dnf: "/redhat/repodata/repomd.xml" } as const

describe.each(PMS)("network and trust with %s", (pm) => {
  const scenarios = useScenarios()
  const servers: Array<{ close(): Promise<void> }> = []
  afterEach(async () => {
    for (let server = servers.pop(); server !== undefined; server = servers.pop()) await server.close()
  })

  const httpsRepository = async (s: Scenario) => {
    const ca = await makeCa(path.join(s.root.tmp, "ca"))
    const front = await TlsFront.start(ca, s.server.port)
    servers.push(front)
    return { ca, front }
  }

  it("reaches a repository only through a proxy: install (proxy variables), upgrade (the package manager's proxy), no_proxy honoured", async () => {
    const s = await scenarios.create(pm)
    const proxy = await ProxyServer.start({ [PROXY_ONLY_HOST]: "127.0.0.1" })
    servers.push(proxy)
    const repository = `http://${PROXY_ONLY_HOST}:${s.server.port}`
    await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: repository })

    // 1. Install, the proxy given by http_proxy: the updater and apt/dnf (its children) both need it.
    const install = await run(s, repository, { http_proxy: proxy.url })
    expect(install.code, describeResult(install)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await s.agentPid(), "the installed agent runs").toBeDefined()
    const carried = proxy.carriedFor(PROXY_ONLY_HOST)
    expect(carried, "the updater's own request went through the proxy").toContain(`GET ${repository}/version.txt`)
    expect(
      carried.some((line) => line.includes(`${repository}${METADATA[pm]}`)),
      `${pm} fetched its metadata through the proxy (the variable reached it)\n${carried.join("\n")}`
    ).toBe(true)
    if (pm === "apt") {
      expect(await s.root.readFile(IN_ROOT.aptList)).toContain(` ${repository}/debian/ serveragent main`)
    } else {
      expect(await s.root.readFile(IN_ROOT.yumRepo)).toContain(`baseurl=${repository}/redhat/`)
    }
    await expectCleanAfterPass(s)

    // 2. Upgrade with no proxy variable at all (a service's environment): the package manager's setting is used.
    await publishWith(s, ["1.0.0", "1.1.0", "1.2.0"], "1.2.0", { baseUrl: repository })
    await configurePackageManagerProxy(s.root, proxy.url)
    const carriedBefore = proxy.carried.length
    const upgrade = await run(s, repository)
    expect(upgrade.code, describeResult(upgrade)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.agentPid(), "the upgraded agent runs").toBeDefined()
    expect(proxy.carried.slice(carriedBefore), "version.txt through the configured proxy").toContain(
      `GET ${repository}/version.txt`
    )
    await expectCleanAfterPass(s)

    // 3. no_proxy covering the host: connected directly, where the name does not resolve.
    const before = await s.snapshot()
    const carriedBeforeNoProxy = proxy.carried.length
    const bypassed = await run(s, repository, { http_proxy: proxy.url, no_proxy: `localhost,${PROXY_ONLY_HOST}` })
    expectOneLineFailure(bypassed, /host not found/i, new RegExp(PROXY_ONLY_HOST.replace(".", "\\.")))
    expect(proxy.carried.slice(carriedBeforeNoProxy), "nothing went through the proxy").toEqual([])
    expect(await s.snapshot(), "nothing changed").toEqual(before)
    await expectNoLocks(s)
    await expectNoStrayProcesses(s)
  })

  it("installs from an https repository whose CA is in the root's system trust store", async () => {
    const s = await scenarios.create(pm)
    const { ca, front } = await httpsRepository(s)
    await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: front.url })
    await installCa(s.root, ca.caCert)

    const result = await run(s, front.url)
    expect(result.code, describeResult(result)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await s.agentPid(), "the installed agent runs").toBeDefined()
    expect(front.requests, "version.txt over https").toContain("GET /version.txt")
    expect(front.requests, `${pm} used the https repository (trusting the same CA)`).toContain(`GET ${METADATA[pm]}`)
    if (pm === "apt") expect(await s.root.readFile(IN_ROOT.aptList)).toContain(` ${front.url}/debian/ serveragent main`)
    else expect(await s.root.readFile(IN_ROOT.yumRepo)).toContain(`baseurl=${front.url}/redhat/`)
    await expectCleanAfterPass(s)
  })

  it("refuses an https repository whose CA is not trusted: one line naming the certificate problem, nothing changed", async () => {
    const s = await scenarios.create(pm)
    const { front } = await httpsRepository(s)
    await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: front.url })
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()

    const result = await run(s, front.url)
    expectOneLineFailure(result, /certificate/i, /not trusted|CA\b/)
    expect(await s.snapshot(), "nothing changed").toEqual(before)
    for (const file of s.ops.repoFiles) expect(await s.root.exists(file), `${file} not written`).toBe(false)
    await expectNoLocks(s)
    await expectNoStrayProcesses(s)
  })

  it("refuses a redirect from the https repository's version.txt to http: one line, nothing written", async () => {
    const s = await scenarios.create(pm)
    const { ca, front } = await httpsRepository(s)
    await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: front.url })
    await installCa(s.root, ca.caCert)
    front.redirect("/version.txt", `${s.server.url}/version.txt`)

    const result = await run(s, front.url, EXTRA_CA_ENV(pm))
    expectOneLineFailure(result, /redirect/i, /http:/)
    expect(s.server.requestsFor("/version.txt"), "the http location was never fetched").toEqual([])
    for (const file of s.ops.repoFiles) expect(await s.root.exists(file), `${file} not written`).toBe(false)
    expect(await s.installedVersion(), "nothing installed").toBeUndefined()
    expect(await s.ops.agentTransactions(s.root)).toBe(0)
    await expectNoLocks(s)
    await expectNoStrayProcesses(s)
  })

  const HOSTILE_REPOS = [
    {
      name: "gpgcheck=0",
      edit: (text: string) => text.replace(/^gpgcheck=1$/m, "gpgcheck=0"),
      names: /gpgcheck/
    },
    {
      name: "a second section with priority=1",
      edit: (text: string) =>
        `${text}\n[updates-extra]\nname=extra\nbaseurl=${text.match(/^baseurl=(.*)$/m)?.[1] ?? ""}\nenabled=1\ngpgcheck=1\npriority=1\n`,
      names: /section|updates-extra/i
    }
  ] as const

  it.runIf(pm === "dnf").each(HOSTILE_REPOS)(
    "refuses a hostile .repo ($name): one line, /etc/yum.repos.d unchanged, nothing installed",
    async ({ edit, names }) => {
      const s = await scenarios.create(pm)
      await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: s.server.url, repoFile: edit })
      const reposBefore = await dirState(s.root, "/etc/yum.repos.d")

      const result = await run(s, s.server.url)
      expect(result.code, describeResult(result)).not.toBe(0)
      const lines = errorLines(result.stderr)
      expect(lines, `one-line error\n${describeResult(result)}`).toHaveLength(1)
      expect(lines[0], describeResult(result)).toMatch(names)
      expect(await dirState(s.root, "/etc/yum.repos.d"), "/etc/yum.repos.d unchanged").toEqual(reposBefore)
      expect(await s.installedVersion(), "nothing installed").toBeUndefined()
      expect(await s.ops.agentTransactions(s.root)).toBe(0)
      await expectNoLocks(s)
      await expectNoStrayProcesses(s)
    }
  )

  it.runIf(pm === "apt")("picks up a rotated apt key on the next pass and upgrades", async () => {
    const s = await scenarios.create(pm)
    const { ca, front } = await httpsRepository(s)
    await installCa(s.root, ca.caCert)
    const dirA = await publishWith(s, ["1.0.0", "1.1.0"], "1.1.0", { baseUrl: front.url })
    const keyA = await fs.readFile(path.join(dirA, "debian", "agentrepo.key"), "utf8")

    const first = await run(s, front.url, EXTRA_CA_ENV(pm))
    expect(first.code, describeResult(first)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect((await s.root.readFile(IN_ROOT.aptKeyring)).trim()).toBe(keyA.trim())

    // The repository re-signed with key B, its agentrepo.key now B, and a newer agent published.
    const gnupgB = path.join(s.root.tmp, "gnupg-b")
    const fingerprintB = await makeSigningKey(gnupgB)
    try {
      const dirB = await publishWith(s, ["1.0.0", "1.1.0", "1.2.0"], "1.2.0", { baseUrl: front.url, gnupgHome: gnupgB })
      const keyB = await fs.readFile(path.join(dirB, "debian", "agentrepo.key"), "utf8")
      expect(keyB.trim()).not.toBe(keyA.trim())

      const second = await run(s, front.url, EXTRA_CA_ENV(pm))
      expect(second.code, describeResult(second)).toBe(0)
      if ((await s.root.readFile(IN_ROOT.aptKeyring)).trim() !== keyB.trim()) {
        // What apt says about the source now, for the failure message.
        const update = await s.root.exec(["apt-get", "update"], { env: { ...ROOT_ENV, LC_ALL: "C" } })
        expect.fail(`the keyring still holds key A\n${describeResult(second)}\n\napt-get update now:\n${describeResult(update)}`)
      }
      const output = `${second.stdout}\n${second.stderr}`
      const fingerprintA = s.fixtures.fingerprint
      const change = output.split("\n").find((line) => line.includes(fingerprintB))
      expect(change, `a line names the new key's fingerprint\n${describeResult(second)}`).toBeDefined()
      expect(change, "and the old one").toContain(fingerprintA)
      expect(upstream(await s.installedVersion())).toBe("1.2.0")
      expect(await s.agentPid(), "the upgraded agent runs").toBeDefined()
      await expectAptUpdateClean(s.root)
      await expectCleanAfterPass(s)
    } finally {
      await stopGpgAgent(gnupgB)
    }
  })
})
