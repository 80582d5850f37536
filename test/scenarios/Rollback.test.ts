/**
 * The way back from a failed upgrade, on the live apt, dnf/yum and zypper layers: a package of the
 * installed version is secured on disk before a running agent is stopped (kept, repository,
 * cache, rebuilt), and every failure after the stop installs it again and starts the old agent.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { zypperDownloadVersion } from "../support/ExpectedCommands.js"
import {
  expectedServiceCommands,
  type Flavor,
  flavors,
  KEPT_DIR,
  makeWorld,
  packageCacheDir,
  packageFileName,
  packageVersion
} from "../support/Scenario.js"
import { hostFileExists, listHostDirectory, writeHostFile, writeHostProgram } from "../support/TempRoot.js"

const oldRunningAgent = (flavor: Flavor, offered = ["1.1.0", "1.2.0"]) => ({
  installed: packageVersion(flavor, "1.1.0"),
  running: true,
  offered: offered.map((upstream) => packageVersion(flavor, upstream))
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const isDeb = (flavor: Flavor) => flavor.packageManager === "apt"

describe.each(flavors)("securing the way back, $name", (flavor) => {
  const old = packageVersion(flavor, "1.1.0")
  const next = packageVersion(flavor, "1.2.0")
  const service = expectedServiceCommands(flavor)

  it.scoped("a first install keeps a copy of the package it installed", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({ flavor, published: "1.2.0", host: { offered: [next] }, repositoryConfigured: true })
      yield* world.pass
      expect(yield* listHostDirectory(world.root, KEPT_DIR)).toEqual([packageFileName(flavor, next)])
    }))

  it.scoped("an upgrade keeps the new version and the previous one, and drops older ones", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({ flavor, published: "1.2.0", host: oldRunningAgent(flavor), repositoryConfigured: true })
      const older = packageFileName(flavor, packageVersion(flavor, "1.0.0"))
      yield* writeHostFile(world.root, `${KEPT_DIR}/${older}`, "older\n")
      yield* world.pass
      expect(yield* listHostDirectory(world.root, KEPT_DIR)).toEqual(
        [packageFileName(flavor, old), packageFileName(flavor, next)].sort()
      )
    }))

  it.scoped("without a kept copy, the installed version is downloaded from the repository before the agent stops", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: oldRunningAgent(flavor),
        repositoryConfigured: true,
        keptInstalled: false
      })
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("Upgraded")
      const commands = (yield* world.host.commands).map((argv) => argv.join(" "))
      const fetch = commands.findIndex((line) =>
        isDeb(flavor)
          ? line.includes("--reinstall") && line.endsWith(`driveclient=${old}`)
          : flavor.packageManager === "zypper"
          ? line === zypperDownloadVersion(old).join(" ")
          : line.includes("reinstall --downloadonly") && line.endsWith(`driveclient-${old}`)
      )
      expect(fetch).toBeGreaterThan(-1)
      expect(fetch).toBeLessThan(commands.indexOf(service.stop.join(" ")))
      expect(yield* hostFileExists(world.root, `${KEPT_DIR}/${packageFileName(flavor, old)}`)).toBe(true)
    }))

  it.scoped("a repository without the installed version: the package cache's copy is kept", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: oldRunningAgent(flavor, ["1.2.0"]),
        repositoryConfigured: true,
        keptInstalled: false
      })
      yield* writeHostFile(world.root, `${packageCacheDir(flavor)}/${packageFileName(flavor, old)}`, "cached\n")
      expect((yield* world.pass)._tag).toBe("Upgraded")
      expect(yield* hostFileExists(world.root, `${KEPT_DIR}/${packageFileName(flavor, old)}`)).toBe(true)
    }))

  it.scoped("no way back at all: a running agent is not stopped, and the pass says why", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: oldRunningAgent(flavor, ["1.2.0"]),
        repositoryConfigured: true,
        keptInstalled: false
      })
      const outcome = yield* world.pass
      expect(outcome._tag).toBe("Skipped")
      expect(outcome._tag === "Skipped" && outcome.reason).toMatch(
        new RegExp(`^no package of the installed ${old.replace(/\./g, "\\.")} can be had for a rollback .*--upgrade-without-rollback`)
      )
      const commands = yield* world.host.commands
      expect(commands).not.toContainEqual(service.stop)
      expect((yield* world.host.state)).toMatchObject({ running: true, installed: { version: old } })
    }))

  it.scoped("--upgrade-without-rollback upgrades a running agent without a way back", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: oldRunningAgent(flavor, ["1.2.0"]),
        repositoryConfigured: true,
        keptInstalled: false,
        config: { upgradeWithoutRollback: true }
      })
      expect((yield* world.pass)._tag).toBe("Upgraded")
      expect((yield* world.host.state)).toMatchObject({ running: true, installed: { version: next } })
    }))
})

describe.each(flavors)("rolling back after the stop, $name", (flavor) => {
  const old = packageVersion(flavor, "1.1.0")
  const next = packageVersion(flavor, "1.2.0")
  const keptFile = () => `${KEPT_DIR}/${packageFileName(flavor, old)}`

  it.scoped("a failing postinst: the kept package is installed again, the old agent runs, the package state is clean", () =>
    Effect.gen(function*() {
      const line = isDeb(flavor) ? "E: Sub-process /usr/bin/dpkg returned an error code (1)" : "Error: Transaction failed"
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { postinst: line } },
        repositoryConfigured: true
      })
      // yum removes a duplicate with yum-utils' package-cleanup.
      if (flavor.packageManager === "yum") yield* writeHostProgram(world.root, "/usr/bin/package-cleanup")
      const error = failureOf(yield* Effect.exit(world.pass))
      expect(error?._tag).toBe("UpgradeRolledBack")
      expect(error?.message).toContain(line)
      expect(error?.message).toMatch(new RegExp(`rolled back to ${old.replace(/\./g, "\\.")}, which is running again$`))
      const state = yield* world.host.state
      expect(state).toMatchObject({ running: true, installed: { version: old, dpkgState: "installed" }, duplicate: undefined })
      const restore = (yield* world.host.commands).map((argv) => argv.join(" ")).filter((cmd) => cmd.endsWith(keptFile()))
      expect(restore).toHaveLength(1)
      expect((yield* world.locks.held).size).toBe(0)
    }))

  it.scoped("a new agent whose service does not start is rolled back and the old one started", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { startOf: next } },
        repositoryConfigured: true
      })
      const error = failureOf(yield* Effect.exit(world.pass))
      expect(error?._tag).toBe("UpgradeRolledBack")
      expect(error?.message).toContain(`the new agent ${next} did not start`)
      expect(yield* world.host.state).toMatchObject({ running: true, installed: { version: old } })
    }))

  it.scoped("a rollback that cannot be done is recorded and does not keep the next pass from going on", () =>
    Effect.gen(function*() {
      const world = yield* makeWorld({
        flavor,
        published: "1.2.0",
        host: { ...oldRunningAgent(flavor), failures: { startOf: next, rollback: "E: the kept package is damaged" } },
        repositoryConfigured: true
      })
      const error = failureOf(yield* Effect.exit(world.pass))
      expect(error?._tag).toBe("RollbackFailed")
      expect(error?.message).toContain("rolling back to")
      expect(error?.message).toContain("E: the kept package is damaged")
      yield* world.host.update((s) => ({ ...s, offered: [...s.offered, packageVersion(flavor, "1.3.0")], failures: {} }))
      const next2 = yield* Effect.exit(world.pass)
      expect(Exit.isSuccess(next2)).toBe(true)
    }))
})
