/**
 * The repository policy as dnf, yum and zypper hosts meet it: a hostile `redhat/drivesrvr.repo`
 * is refused with one line before anything is written or run; a legal multi-line, CRLF file is
 * written as served.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RpmPackageManager from "../../../../src/layers/packageManagers/rpm/RpmPackageManager.js"
import * as ZypperPackageManager from "../../../../src/layers/packageManagers/zypper/ZypperPackageManager.js"
import { Shell } from "../../../../src/services/Shell.js"
import * as FakeShell from "../../../support/FakeShell.js"
import { REPOSITORY_KEY } from "../../../support/OpenPgpKeys.js"
import { BASE, remoteRepository } from "../../../support/RemoteRepository.js"
import { hostFileExists, readHostFile, tempRoot } from "../../../support/TempRoot.js"

const KEY_PATH = "redhat/RPM-GPG-KEY-drivesrvr"
const GOOD = `[drivesrvr]\nname=Cloud Backup agent\nbaseurl=${BASE}/redhat/\nenabled=1\ngpgcheck=1\ngpgkey=${BASE}/${KEY_PATH}\n`
const where = "the [drivesrvr] section"

const tools = [
  { tool: "dnf", reposDir: "/etc/yum.repos.d" },
  { tool: "yum", reposDir: "/etc/yum.repos.d" },
  { tool: "zypper", reposDir: "/etc/zypp/repos.d" }
] as const

const withHost = (tool: typeof tools[number]["tool"], repoFile: string) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    const host = yield* FakeShell.make({ root })
    const make = tool === "zypper" ? ZypperPackageManager.make({ root }) : RpmPackageManager.make({ root, flavor: tool })
    const packages = yield* make.pipe(
      Effect.provideService(Shell, host.shell),
      Effect.provide(remoteRepository({ "redhat/drivesrvr.repo": repoFile, [KEY_PATH]: REPOSITORY_KEY }))
    )
    return { root, host, packages }
  })

const hostile = [
  { what: "a second section", text: `${GOOD}[evil]\nbaseurl=${BASE}/evil/\npriority=1\ngpgcheck=0\n`, problem: "a second section [evil]: the repo file may define only [drivesrvr]" },
  { what: "gpgcheck=0", text: GOOD.replace("gpgcheck=1", "gpgcheck=0"), problem: `${where} turns gpgcheck off` },
  { what: "no gpgcheck", text: GOOD.replace("gpgcheck=1\n", ""), problem: `${where} has no gpgcheck=1` },
  { what: "repo_gpgcheck=0", text: `${GOOD}repo_gpgcheck=0\n`, problem: `${where} turns repo_gpgcheck off` },
  { what: "sslverify=0", text: `${GOOD}sslverify=0\n`, problem: `${where} turns sslverify off` },
  { what: "a plain http baseurl", text: GOOD.replace(`baseurl=${BASE}`, "baseurl=http://agentrepo.example.test"), problem: `${where} has baseurl http://agentrepo.example.test/redhat/, not https://` },
  { what: "a plain http gpgkey on a continuation line", text: GOOD.replace(`${KEY_PATH}\n`, `${KEY_PATH}\n  http://evil.example/KEY\n`), problem: `${where} has gpgkey http://evil.example/KEY, not https://` },
  { what: "a priority", text: `${GOOD}priority=1\n`, problem: `${where} may not set priority` },
  { what: "no gpgkey", text: GOOD.replace(/gpgkey=.*\n/, ""), problem: `${where} names no gpgkey` }
]

describe.each(tools)("the repository policy on a $tool host", ({ reposDir, tool }) => {
  it.scoped.each(hostile)("$what: refused with one line, nothing written, nothing run", ({ problem, text }) =>
    Effect.gen(function*() {
      const { host, packages, root } = yield* withHost(tool, text)
      const error = yield* Effect.flip(packages.configureRepository)
      expect(error.message.startsWith(`${BASE}/redhat/drivesrvr.repo: ${problem}`)).toBe(true)
      expect(error.message).not.toContain("\n")
      expect(yield* hostFileExists(root, reposDir)).toBe(false)
      expect(yield* host.commands).toEqual([])
    }))

  it.scoped("a legal multi-line baseurl and gpgkey with CRLF line ends is written as served", () =>
    Effect.gen(function*() {
      const text = GOOD.replace(`/redhat/\n`, `/redhat/\n        ${BASE}/mirror/redhat/\n`).replace(/\n/g, "\r\n")
      const { packages, root } = yield* withHost(tool, text)
      yield* packages.configureRepository
      expect(yield* readHostFile(root, `${reposDir}/drivesrvr.repo`)).toBe(text)
    }))
})
