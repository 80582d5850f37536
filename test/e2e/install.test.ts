/**
 * Contract conditions 1 and 2: a host without the repository gets it configured and the newest
 * agent installed; a host with the repository but no agent gets the newest agent installed and
 * its repository configuration left as it was.
 */
import { describe, expect, it } from "vitest"
import { aptEntriesFor, expectAptUpdateClean } from "./lib/aptSources.js"
import { expectCleanAfterPass } from "./lib/checks.js"
import { describeResult } from "./lib/exec.js"
import { IN_ROOT } from "./lib/paths.js"
import { ALL_PMS, type Pm, upstream } from "./lib/packageManagers.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

const meaningfulLines = (text: string) =>
  text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))

/** The repository the updater configured is the contract's, and the package manager uses it cleanly. */
const expectRepoConfigured: Readonly<Record<Pm, (s: Scenario) => Promise<void>>> = {
  apt: async (s) => {
    expect(meaningfulLines(await s.root.readFile(IN_ROOT.aptList))).toEqual([
      `deb [arch=amd64 signed-by=${IN_ROOT.aptKeyring}] ${s.server.url}/debian/ serveragent main`
    ])
    expect((await s.root.readFile(IN_ROOT.aptKeyring)).trim()).toBe(
      (await s.publisher.read("debian/agentrepo.key")).trim()
    )
    expect(await aptEntriesFor(s.root, s.server.url)).toHaveLength(1)
    await expectAptUpdateClean(s.root)
  },
  dnf: async (s) => {
    expect(await s.root.readFile(IN_ROOT.yumRepo)).toBe(await s.publisher.read("redhat/drivesrvr.repo"))
  },
  zypper: async (s) => {
    expect(await s.root.readFile(IN_ROOT.zyppRepo)).toBe(await s.publisher.read("redhat/drivesrvr.repo"))
    // The key was imported into the rpmdb: zypper refreshes the signed metadata without a prompt.
    const keys = await s.root.exec(["rpm", "-q", "gpg-pubkey"])
    expect(keys.stdout.trim().split("\n"), describeResult(keys)).toEqual([expect.stringMatching(/^gpg-pubkey-/)])
    const refresh = await s.root.exec(["zypper", "--non-interactive", "refresh", "--repo", "drivesrvr"], { timeoutMs: 60_000 })
    expect(refresh.code, describeResult(refresh)).toBe(0)
  }
}

describe.each(ALL_PMS)("install with %s", (pm) => {
  const scenarios = useScenarios()

  it("configures a missing repository and installs the newest agent", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    for (const file of s.ops.repoFiles) expect(await s.root.exists(file), file).toBe(false)

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    await expectRepoConfigured[pm](s)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    const pid = await s.agentPid()
    expect(pid, "the freshly installed agent runs").toBeDefined()
    expect((await s.events()).filter((e) => e.kind === "up").map((e) => ("version" in e ? e.version : ""))).toEqual([
      "1.2.0"
    ])
    await expectCleanAfterPass(s)
  })

  it("installs the newest agent from an already configured repository", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    await s.configureRepo()
    const before = await s.snapshot()

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.ops.agentTransactions(s.root)).toBe(before.transactions + 1)
    expect((await s.snapshot()).repoFiles, "repository configuration unchanged").toEqual(before.repoFiles)
    if (pm === "apt") expect(await aptEntriesFor(s.root, s.server.url)).toHaveLength(1)
    expect(await s.agentPid()).toBeDefined()
    await expectCleanAfterPass(s)
  })

  // apt-get is on the zypper root's PATH as well (it is Debian underneath): only os-release tells.
  it.runIf(pm === "zypper")("picks zypper by itself on a host whose os-release says SLES", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0", "1.2.0"], "1.2.0")

    const run = await s.runUpdater({ detectPackageManager: true })
    expect(run.code, describeResult(run)).toBe(0)

    await expectRepoConfigured[pm](s)
    expect(await s.root.exists(IN_ROOT.aptList), "no apt source written").toBe(false)
    expect(upstream(await s.installedVersion())).toBe("1.2.0")
    expect(await s.ops.agentTransactions(s.root)).toBe(1)
    expect(await s.agentPid()).toBeDefined()
    await expectCleanAfterPass(s)
  })
})
