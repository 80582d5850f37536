/**
 * Contract condition 1 (apt): an existing entry for the agent repository, in any sources file,
 * counts as configured — the original updater's legacy one-line entry (no signed-by, key added
 * with `apt-key add`, i.e. in /etc/apt/trusted.gpg), a one-line entry in sources.list, or a
 * deb822 stanza. The updater adds no second entry, apt stays healthy, and the upgrade works.
 * (dnf has no legacy form: the original wrote the same drivesrvr.repo, covered by install.test.ts;
 * nor has zypper: the original never supported SUSE.)
 */
import * as fs from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { aptEntriesFor, expectAptUpdateClean } from "./lib/aptSources.js"
import { expectCleanAfterPass } from "./lib/checks.js"
import { describeResult, execOk } from "./lib/exec.js"
import { upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

interface Existing {
  readonly name: string
  /** The file holding the entry; only the updater's own driveclient.list may be rewritten. */
  readonly file: string
  readonly setUp: (s: Scenario, key: string) => Promise<void>
}

const CASES: ReadonlyArray<Existing> = [
  {
    name: "the original updater's entry (no signed-by, key added with apt-key)",
    file: IN_ROOT.aptList,
    setUp: async (s, key) => {
      await s.root.writeFile(IN_ROOT.aptList, `deb ${s.server.url}/debian/ serveragent main\n`)
      // What `apt-key add` does: the key, dearmored, in the legacy trusted.gpg keyring.
      await execOk(["gpg", "--batch", "--yes", "--dearmor", "-o", s.root.path("/etc/apt/trusted.gpg")], { input: key })
    }
  },
  {
    name: "a one-line entry in sources.list, URI without the trailing slash",
    file: "/etc/apt/sources.list",
    setUp: async (s, key) => {
      await s.root.writeFile("/usr/share/keyrings/vendor-agent.asc", key)
      const list = await s.root.readFile("/etc/apt/sources.list")
      await s.root.writeFile(
        "/etc/apt/sources.list",
        `${list}deb [signed-by=/usr/share/keyrings/vendor-agent.asc] ${s.server.url}/debian serveragent main\n`
      )
    }
  },
  {
    name: "a deb822 stanza in another file",
    file: "/etc/apt/sources.list.d/vendor-agent.sources",
    setUp: async (s, key) => {
      await s.root.writeFile("/etc/apt/keyrings/vendor-agent.asc", key)
      await s.root.writeFile(
        "/etc/apt/sources.list.d/vendor-agent.sources",
        [
          "Types: deb",
          `URIs: ${s.server.url}/debian/`,
          "Suites: serveragent",
          "Components: main",
          "Architectures: amd64",
          "Signed-By: /etc/apt/keyrings/vendor-agent.asc",
          ""
        ].join("\n")
      )
    }
  }
]

describe("existing apt entries", () => {
  const scenarios = useScenarios()

  it.each(CASES)("accepts $name and upgrades through it", async ({ file, setUp }) => {
    const s = await scenarios.create("apt")
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await setUp(s, await s.publisher.read("debian/agentrepo.key"))
    await s.installAgent("1.0.0", { running: true })
    const listDir = s.root.path("/etc/apt/sources.list.d")
    const filesBefore = (await fs.readdir(listDir)).sort()
    const entryBefore = await s.root.readFile(file)

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)

    const entries = await aptEntriesFor(s.root, s.server.url)
    expect(entries.map((e) => e.file), "exactly one entry for the agent repository").toEqual([file])
    expect((await fs.readdir(listDir)).sort(), "no sources file added").toEqual(filesBefore)
    if (file !== IN_ROOT.aptList) expect(await s.root.readFile(file), "someone else's file is untouched").toBe(entryBefore)
    await expectAptUpdateClean(s.root)

    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    const events = (await s.events()).filter((e) => e.kind === "up")
    expect(events.at(-1)).toMatchObject({ kind: "up", version: "1.1.0", pid: await s.agentPid() })
    await expectCleanAfterPass(s)
  })
})
