/** Contract condition 2: a missing agent is installed at once; the service is not touched. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { DPKG_QUERY } from "../support/ExpectedCommands.js"
import { expectedPackageCommands, flavors, makeWorld, packageVersion } from "../support/Scenario.js"

describe.each(flavors)("agent missing, $name", (flavor) => {
  it.scoped("installs the newest agent at once", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { offered: [packageVersion(flavor, "1.1.0"), packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({ _tag: "Installed", version: packageVersion(flavor, "1.2.0") }))
      const expected = expectedPackageCommands(flavor)
      expect(yield* world.host.commands).toEqual([
        expected.installedVersion,
        ...expected.refresh,
        expected.candidate,
        ...expected.download(false),
        ...expected.install(false),
        expected.installedVersion
      ])
      expect((yield* world.host.state).installed?.version).toBe(packageVersion(flavor, "1.2.0"))
    }))
})

describe("agent removed but not purged (apt)", () => {
  const apt = flavors.find((flavor) => flavor.packageManager === "apt")!

  it.scoped("dpkg's config-files state counts as missing: the agent is installed", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor: apt,
        published: "1.2.0",
        host: { installed: "1.1.0-1", dpkgState: "config-files", offered: ["1.2.0-1"] },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({ _tag: "Installed", version: "1.2.0-1" }))
      const expected = expectedPackageCommands(apt)
      expect(yield* world.host.commands).toEqual([DPKG_QUERY, ...expected.refresh, expected.candidate, ...expected.download(false), ...expected.install(false), DPKG_QUERY])
    }))

  it.scoped("a half-configured agent counts as installed and is repaired by the upgrade", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor: apt,
        published: "1.2.0",
        host: { installed: "1.1.0-1", dpkgState: "half-configured", offered: ["1.2.0-1"] },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({ _tag: "Upgraded", from: "1.1.0-1", to: "1.2.0-1" }))
      expect((yield* world.host.state).installed).toEqual({ version: "1.2.0-1", dpkgState: "installed" })
    }))
})
