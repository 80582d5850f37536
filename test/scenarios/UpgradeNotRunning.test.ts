/** Contract condition 4: an old agent that is not running is upgraded and left not running. */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  expectedLeaveAloneChecks,
  expectedPackageCommands,
  expectedServiceCommands,
  flavors,
  makeWorld,
  packageVersion,
  UPDATER_PID
} from "../support/Scenario.js"

describe.each(flavors)("old agent not running, $name", (flavor) => {
  it.scoped("upgrades it without stopping or starting it", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.1.0"), running: false, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      const outcome = yield* world.pass
      expect(outcome).toEqual(expect.objectContaining({
        _tag: "Upgraded",
        from: packageVersion(flavor, "1.1.0"),
        to: packageVersion(flavor, "1.2.0"),
        agentWasRunning: false
      }))
      const expected = expectedPackageCommands(flavor)
      expect(yield* world.host.commands).toEqual([
        expected.installedVersion,
        ...expectedLeaveAloneChecks(flavor),
        ...expected.refresh,
        expected.candidate,
        expectedServiceCommands(flavor).status,
        // Under the agent's backup lock, one more look: it was not started meanwhile.
        expectedServiceCommands(flavor).status,
        ...expected.install(true),
        expected.installedVersion
      ])
      const state = yield* world.host.state
      expect(state.running).toBe(false)
      expect(state.installed?.version).toBe(packageVersion(flavor, "1.2.0"))
      expect((yield* world.locks.held).size).toBe(0)
    }))

  it.scoped("holds the agent's backup lock through the transaction", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { installed: packageVersion(flavor, "1.1.0"), running: false, offered: [packageVersion(flavor, "1.2.0")] },
        repositoryConfigured: true
      })
      yield* world.pass
      const transaction = expectedPackageCommands(flavor).install(true).at(-1)!
      const entry = (yield* world.commandsWithLock).find((e) => JSON.stringify(e.argv) === JSON.stringify(transaction))
      expect(entry?.agentLockHolder).toBe(UPDATER_PID)
    }))
})
