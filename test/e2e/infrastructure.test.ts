/**
 * The suite's own machinery, without the updater: the server's faults and throttling, the
 * signed repositories (apt-get, dnf and zypper install and upgrade from them with signature
 * checks on, and refuse a repository signed by another key or whose key is unknown), and root
 * teardown.
 */
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { describeResult, type ExecResult, execOk } from "./lib/exec.js"
import { stopGpgAgent } from "./lib/fixtures.js"
import { IN_ROOT, SCRIPTS_DIR } from "./lib/paths.js"
import { PMS, upstream } from "./lib/packageManagers.js"
import { isAlive } from "./lib/procfs.js"
import { Faults, RepoServer } from "./lib/repoServer.js"
import { ROOT_ENV } from "./lib/root.js"
import { Scenario } from "./lib/scenario.js"

describe("repository server", () => {
  let server: RepoServer
  let dir: string
  afterEach(async () => {
    await server.close()
    await fs.rm(dir, { recursive: true, force: true })
  })

  const serve = async (files: Record<string, string | Buffer>) => {
    server = await RepoServer.start()
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "driveclient-e2e-server-"))
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
      await fs.writeFile(path.join(dir, name), content)
    }
    server.setRoot(dir)
  }

  it("serves files, 404s the rest, and never leaves its root", async () => {
    await serve({ "version.txt": "1.2.0\n" })
    expect(await (await fetch(`${server.url}/version.txt`)).text()).toBe("1.2.0\n")
    expect((await fetch(`${server.url}/missing`)).status).toBe(404)
    // fetch() would normalise "..": send the raw path.
    const status = await new Promise<number | undefined>((resolve, reject) =>
      http.get({ host: "127.0.0.1", port: server.port, path: "/..%2f..%2f..%2fetc%2fpasswd" }, (res) => {
        res.resume()
        resolve(res.statusCode)
      }).on("error", reject)
    )
    expect(status).toBe(404)
  })

  it("injects status, garbage, HTML, empty, close and hang faults per path", async () => {
    await serve({ "version.txt": "1.2.0\n", "other.txt": "fine\n" })
    server.injectFault("/version.txt", Faults.status(500))
    expect((await fetch(`${server.url}/version.txt`)).status).toBe(500)
    expect(await (await fetch(`${server.url}/other.txt`)).text()).toBe("fine\n")
    server.injectFault("/version.txt", Faults.garbage)
    expect(await (await fetch(`${server.url}/version.txt`)).text()).toContain("not a version")
    server.injectFault("/version.txt", Faults.html)
    const html = await fetch(`${server.url}/version.txt`)
    expect(html.headers.get("content-type")).toContain("text/html")
    server.injectFault("/version.txt", Faults.empty)
    expect(await (await fetch(`${server.url}/version.txt`)).text()).toBe("")
    server.injectFault("/version.txt", Faults.close)
    await expect(fetch(`${server.url}/version.txt`)).rejects.toThrow()
    server.injectFault("/version.txt", Faults.hang)
    await expect(fetch(`${server.url}/version.txt`, { signal: AbortSignal.timeout(500) })).rejects.toThrow()
    server.clearFaults()
    expect(await (await fetch(`${server.url}/version.txt`)).text()).toBe("1.2.0\n")
  })

  it("throttles to the configured rate", async () => {
    await serve({ "big.deb": Buffer.alloc(1024 * 1024, 7) })
    server.throttle(/\.deb$/, 2 * 1024 * 1024)
    const began = Date.now()
    const body = await (await fetch(`${server.url}/big.deb`)).arrayBuffer()
    const ms = Date.now() - began
    expect(body.byteLength).toBe(1024 * 1024)
    // A throttle can only make the transfer slower than 0.5 s, never faster: a lower bound is safe on a busy machine.
    expect(ms).toBeGreaterThanOrEqual(450)
    const [request] = server.requestsFor("/big.deb")
    expect(request?.finishedAt).toBeDefined()
  })
})

describe.each(PMS)("signed repository with %s", (pm) => {
  let s: Scenario
  afterEach(async () => s.dispose())

  const aptGet = (...args: string[]) =>
    s.root.exec(["apt-get", "-q", "-y", ...args], { env: { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" } })
  const dnf = (...args: string[]) => s.root.exec(["dnf", "-y", "--refresh", ...args])

  const install = () => (pm === "apt" ? aptGetUpdateThen("install", "driveclient") : dnf("install", "driveclient"))
  const upgrade = () => (pm === "apt" ? aptGetUpdateThen("install", "driveclient") : dnf("upgrade", "driveclient"))
  const aptGetUpdateThen = async (...args: string[]) => {
    const update = await aptGet("update")
    if (update.code !== 0 || /^(W|E):/m.test(update.stdout + update.stderr)) return update
    return aptGet(...args)
  }

  it("installs and upgrades the agent with signature checking on", async () => {
    s = await Scenario.create(pm)
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    const installed = await install()
    expect(installed.code, describeResult(installed)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    const first = await s.agentPid()
    expect(first).toBeDefined()

    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    const upgraded = await upgrade()
    expect(upgraded.code, describeResult(upgraded)).toBe(0)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    // The fixture package leaves restarting to the updater: the 1.1.0 agent still runs.
    expect(await s.agentPid()).toBe(first)
    expect(await s.ops.agentTransactions(s.root)).toBe(2)
    const kinds = (await s.events()).map((e) => `${e.kind} ${"version" in e ? e.version : ""}`)
    expect(kinds).toEqual(["up 1.1.0"])
    if (pm === "dnf") expect((await s.root.execOk(["rpm", "-q", "gpg-pubkey"])).stdout).toMatch(/^gpg-pubkey-/)
  })

  it("refuses a repository signed by another key", async () => {
    s = await Scenario.create(pm)
    const published = await s.publish(["1.0.0"], "1.0.0")
    await s.configureRepo()
    const otherHome = path.join(s.root.tmp, "other-gnupg")
    await execOk(["sh", path.join(SCRIPTS_DIR, "make-key.sh"), otherHome])
    const otherKey = (await execOk(["gpg", "--armor", "--export"], { env: { ...process.env, GNUPGHOME: otherHome } })).stdout
    await stopGpgAgent(otherHome)
    if (pm === "apt") {
      await s.root.writeFile(IN_ROOT.aptKeyring, otherKey)
    } else {
      await fs.writeFile(path.join(published, "redhat", "OTHER-KEY"), otherKey)
      const repo = (await s.root.readFile(IN_ROOT.yumRepo)).replace(/RPM-GPG-KEY-drivesrvr/, "OTHER-KEY")
      await s.root.writeFile(IN_ROOT.yumRepo, repo)
    }
    const result = await install()
    expect(result.code === 0 && !/^(W|E):/m.test(result.stdout + result.stderr), describeResult(result)).toBe(false)
    expect(`${result.stdout}\n${result.stderr}`).toMatch(pm === "apt" ? /NO_PUBKEY|not signed/ : /GPG|signature|key/i)
    expect(await s.installedVersion()).toBeUndefined()
  })

  it("runs the fixture agent's init script, busy helper and events", async () => {
    s = await Scenario.create(pm)
    await s.installAgent("1.0.0", { running: true })
    const pid = await s.agentPid()
    expect(pid).toBeDefined()
    expect((await s.root.exec(["/etc/init.d/driveclient", "status"])).code).toBe(0)
    await s.makeBusy(1)
    expect((await s.root.readFile(IN_ROOT.agentLock)).trim()).toBe(String(pid))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await s.root.exists(IN_ROOT.agentLock)).toBe(false)
    await s.root.execOk(["/etc/init.d/driveclient", "stop"])
    expect((await s.root.exec(["/etc/init.d/driveclient", "status"])).code).toBe(3)
    expect(await isAlive(pid ?? -1)).toBe(false)
    const events = (await s.events()).map((e) => e.kind)
    expect(events).toEqual(["up", "lock", "unlock", "down"])
  })
})

describe("signed repository with zypper (no updater)", () => {
  let s: Scenario
  afterEach(async () => s.dispose())

  const zypper = (...args: string[]) => s.root.exec(["zypper", "--non-interactive", ...args])
  const expectOk = (result: ExecResult) => expect(result.code, describeResult(result)).toBe(0)

  it("refreshes with repomd.xml's signature checked, installs and upgrades the agent", async () => {
    s = await Scenario.create("zypper")
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    const repoFile = await s.root.readFile(IN_ROOT.zyppRepo)
    expectOk(await zypper("refresh", "--repo", "drivesrvr"))
    expect(s.server.requestsFor("/redhat/repodata/repomd.xml.asc").map((r) => r.status)).toContain(200)
    expectOk(await zypper("install", "driveclient"))
    expect(await s.installedVersion()).toBe("1.1.0-1.el9")
    const first = await s.agentPid()
    expect(first).toBeDefined()

    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    // The vendor's .repo has no autorefresh=1: zypper sees 1.2.0 only after an explicit refresh.
    expectOk(await zypper("refresh", "--repo", "drivesrvr"))
    expectOk(await zypper("update", "driveclient"))
    expect(await s.installedVersion()).toBe("1.2.0-1.el9")
    // The fixture package leaves restarting to the updater: the 1.1.0 agent still runs.
    expect(await s.agentPid()).toBe(first)
    expect(await s.ops.agentTransactions(s.root)).toBe(2)
    expect((await s.events()).map((e) => `${e.kind} ${"version" in e ? e.version : ""}`)).toEqual(["up 1.1.0"])
    expect(await s.root.readFile(IN_ROOT.zyppRepo), "zypper leaves the vendor's .repo as it was").toBe(repoFile)
  })

  it("refuses a repository whose key was not imported", async () => {
    s = await Scenario.create("zypper")
    await s.publish(["1.0.0"], "1.0.0")
    await s.root.writeFile(IN_ROOT.zyppRepo, await s.publisher.read("redhat/drivesrvr.repo"))
    const refreshed = await zypper("refresh", "--repo", "drivesrvr")
    expect(refreshed.code, describeResult(refreshed)).toBe(4)
    expect(refreshed.stderr).toContain("Signature verification failed for repomd.xml")
    const installed = await zypper("install", "driveclient")
    expect(installed.code, describeResult(installed)).toBe(104)
    expect(await s.installedVersion()).toBeUndefined()
    expect((await s.root.exec(["rpm", "-q", "gpg-pubkey"])).code, "no key was imported").not.toBe(0)
  })
})

describe("throwaway roots", () => {
  it("kill what runs inside and unmount everything on dispose", async () => {
    const s = await Scenario.create("apt")
    await s.installAgent("1.0.0", { running: true })
    const pid = await s.agentPid()
    expect(pid).toBeDefined()
    await s.dispose()
    expect(await isAlive(pid ?? -1)).toBe(false)
    expect((await fs.readFile("/proc/self/mounts", "utf8")).includes(s.root.tmp)).toBe(false)
    await expect(fs.access(s.root.tmp)).rejects.toThrow()
  })
})
