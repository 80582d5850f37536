/** Contract condition 3: an up-to-date agent — only read-only queries run, no service is touched. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { expectedLeaveAloneChecks, expectedPackageCommands, flavors, makeWorld, packageVersion } from "../support/Scenario.js"

describe.each(flavors)("agent up to date, $name", (flavor) => {
  it.scoped("runs only the installed-version query", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.2.0"), running: true, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({ _tag: "UpToDate", installed: packageVersion(flavor, "1.2.0") }))
      expect(yield* world.host.commands).toEqual([expectedPackageCommands(flavor).installedVersion])
      expect((yield* world.host.state).running).toBe(true)
    }))

  it.scoped("a newer installed agent than version.txt is up to date too", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.3.0"), running: false },
        repositoryConfigured: true
      })
      expect((yield* world.pass)._tag).toBe("UpToDate")
      expect(yield* world.host.commands).toEqual([expectedPackageCommands(flavor).installedVersion])
    }))

  it.scoped("a repository still offering an older agent than version.txt: nothing is stopped", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: {
          installed: packageVersion(flavor, "1.1.0"),
          running: true,
          offered: [packageVersion(flavor, "1.0.0"), packageVersion(flavor, "1.1.0")]
        },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("NotOffered")
      const expected = expectedPackageCommands(flavor)
      expect(yield* world.host.commands).toEqual([
        expected.installedVersion,
        ...expectedLeaveAloneChecks(flavor),
        ...expected.refresh,
        expected.candidate
      ])
      expect((yield* world.host.state).running).toBe(true)
    }))
})
