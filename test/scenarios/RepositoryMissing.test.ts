/** Contract condition 1: the agent repository is configured, once, and only from checked material. */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { aptUpdate, DPKG_QUERY } from "../support/ExpectedCommands.js"
import {
  ARMORED_KEY,
  expectedPackageCommands,
  flavors,
  makeWorld,
  packageVersion,
  repoFilePath,
  YUM_REPO
} from "../support/Scenario.js"
import { hostFileExists, listHostDirectory, modeOf, readHostFile, writeHostFile } from "../support/TempRoot.js"

describe.each(flavors)("repository missing, $name", (flavor) => {
  it.scoped("writes the repository configuration and runs nothing else when the agent is up to date", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0\n",
        host: { installed: packageVersion(flavor, "1.2.0"), running: true, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: false
      })
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("UpToDate")
      const expected = expectedPackageCommands(flavor)
      expect(yield* world.host.commands).toEqual([...expected.configureRepository, expected.installedVersion])

      if (flavor.packageManager === "apt") {
        expect(yield* readHostFile(world.root, "/etc/apt/keyrings/driveclient.asc")).toBe(ARMORED_KEY)
        expect(yield* readHostFile(world.root, "/etc/apt/sources.list.d/driveclient.list")).toBe(
          "deb [arch=amd64 signed-by=/etc/apt/keyrings/driveclient.asc] https://agentrepo.example.test/debian/ serveragent main\n"
        )
        expect(yield* modeOf(world.root, "/etc/apt/keyrings")).toBe(0o755)
        expect(yield* modeOf(world.root, "/etc/apt/keyrings/driveclient.asc")).toBe(0o644)
        expect(yield* modeOf(world.root, "/etc/apt/sources.list.d/driveclient.list")).toBe(0o644)
        expect(yield* listHostDirectory(world.root, "/etc/apt/sources.list.d")).toEqual(["driveclient.list"])
      } else {
        const repoFile = repoFilePath(flavor)
        expect(yield* readHostFile(world.root, repoFile)).toBe(YUM_REPO)
        expect(yield* modeOf(world.root, repoFile)).toBe(0o644)
        expect(yield* listHostDirectory(world.root, path.posix.dirname(repoFile))).toEqual(["drivesrvr.repo"])
      }
    }))

  it.scoped("configures the repository, then installs a missing agent from it", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: false
      })
      const outcome = yield* world.pass
      expect(outcome).toMatchObject({ _tag: "Installed", version: packageVersion(flavor, "1.2.0") })
      const expected = expectedPackageCommands(flavor)
      expect(yield* world.host.commands).toEqual([
        ...expected.configureRepository,
        expected.installedVersion,
        ...expected.refresh,
        expected.candidate,
        ...expected.download(false),
        ...expected.install(false),
        expected.installedVersion
      ])
    }))
})

describe("repository configured by someone else (apt)", () => {
  const apt = flavors.find((flavor) => flavor.packageManager === "apt")!

  it.scoped("a legacy entry without signed-by in sources.list counts as configured: no second entry", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor: apt,
        published: "1.2.0",
        host: { installed: "1.1.0-1", offered: ["1.2.0-1"] },
        repositoryConfigured: false
      })
      yield* writeHostFile(
        world.root,
        "/etc/apt/sources.list",
        "deb http://deb.debian.org/debian bookworm main\ndeb https://agentrepo.example.test/debian serveragent main\n"
      )
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("Upgraded")
      expect(yield* hostFileExists(world.root, "/etc/apt/sources.list.d/driveclient.list")).toBe(false)
      expect(yield* hostFileExists(world.root, "/etc/apt/keyrings/driveclient.asc")).toBe(false)
      const commands = yield* world.host.commands
      expect(commands[0]).toEqual(DPKG_QUERY)
      expect(commands).toContainEqual(aptUpdate("/etc/apt/sources.list"))
      expect(commands.filter((argv) => argv[0] === "apt-get" && argv[1] === "update")).toHaveLength(1)
    }))

  it.scoped("a deb822 entry counts as configured, and the refresh reads only that file", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor: apt,
        published: "1.2.0",
        host: { installed: "1.1.0-1", offered: ["1.2.0-1"] },
        repositoryConfigured: false
      })
      yield* writeHostFile(
        world.root,
        "/etc/apt/sources.list.d/vendor.sources",
        [
          "Types: deb",
          "URIs: https://agentrepo.example.test/debian/",
          "Suites: serveragent",
          "Components: main",
          "Signed-By: /usr/share/keyrings/vendor.gpg",
          ""
        ].join("\n")
      )
      yield* world.pass
      expect(yield* listHostDirectory(world.root, "/etc/apt/sources.list.d")).toEqual(["vendor.sources"])
      const updates = (yield* world.host.commands).filter((argv) => argv[0] === "apt-get" && argv[1] === "update")
      expect(updates).toEqual([aptUpdate("/etc/apt/sources.list.d/vendor.sources")])
    }))
})
