/**
 * Rollback: before a running agent is stopped, a package of its version is secured on disk (a
 * copy the updater kept, the repository, the package cache, or — deb — rebuilt from the installed
 * files); any failure after the stop installs it again, starts the old agent, records the failed
 * version and ends the pass with exit 1 and one line saying so. And a backup lock naming no pid
 * that is older than the running agent is stale at once.
 *
 * Each case prints one line: how the pass ended and what it left.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { describeResult, execOk, type ExecResult } from "./lib/exec.js"
import {
  emptyPackageCache,
  eventSummary,
  expectNoJournal,
  expectPackagesClean,
  expectPackageVerified,
  expectSafeEnd,
  keptPackages,
  lines,
  packageState,
  readState,
  runningAgentVersion,
  verifyPackage
} from "./lib/faults.js"
import type { Build } from "./lib/fixtures.js"
import { ALL_PMS, opsFor, type Pm, upstream } from "./lib/packageManagers.js"
import { IN_ROOT } from "./lib/paths.js"
import { ROOT_ENV } from "./lib/root.js"
import { type Scenario, useScenarios } from "./lib/scenario.js"

const summary = eventSummary

/** The full package version of a fixture build: deb `1.0.0-1`, rpm `1.0.0-1.el9`. */
const full = (pm: Pm, version: string) => opsFor(pm).fullVersion(version)

/** The package file name of a fixture version, as the package caches and the kept packages name it. */
const packageFile = (pm: Pm, version: string) => opsFor(pm).packageFile(version)

/** The package managers of rpm hosts, which have no package to rebuild from the installed files. */
const RPM_PMS = ALL_PMS.filter((pm) => opsFor(pm).format === "rpm")

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * A 1.1.0 whose package transaction fails on the upgrade: the postinst on apt (dpkg has unpacked
 * the new files when it fails); the %pre on rpm hosts (rpm only warns about a failing %post,
 * and dnf then exits 0).
 */
const FAILING_TRANSACTION: Readonly<Record<Pm, Build>> = {
  apt: "1.1.0-failing-postinst",
  dnf: "1.1.0-failing-preinst",
  zypper: "1.1.0-failing-preinst"
}

/** The package manager's own error about the failed script, as the failure line quotes it. */
const TRANSACTION_ERROR: Readonly<Record<Pm, RegExp>> = {
  apt: /E: Sub-process \/usr\/bin\/dpkg returned an error code \(1\)|dpkg: error processing .*driveclient|post-installation script/,
  dnf: /Error: Transaction failed|%prein\(driveclient-1\.1\.0-1\.el9\.x86_64\) scriptlet failed|Error in PREIN scriptlet/,
  zypper: /Installation of driveclient-1\.1\.0-1\.el9\.x86_64 failed|RPM failed: driveclient 1\.1\.0 %pre|%prein\(driveclient-1\.1\.0-1\.el9\.x86_64\) scriptlet failed/
}

/** The lines the updater printed as its own verdict ("cloudbackup-updater: ..."). */
const verdictLines = (run: ExecResult) => lines({ ...run, stdout: "" }).filter((l) => l.startsWith("cloudbackup-updater: "))

/**
 * The pass ended with exactly one verdict line, "the upgrade to 1.1.0-1 failed (REASON); rolled
 * back to 1.0.0-1, which is running again", and exit 1; returns REASON.
 */
const expectRolledBackLine = (pm: Pm, run: ExecResult): string => {
  // Soft: when the pass ended otherwise, the checks of what it left still run and report.
  expect.soft(run.code, describeResult(run)).toBe(1)
  const verdict = verdictLines(run)
  expect.soft(verdict, describeResult(run)).toHaveLength(1)
  const match = new RegExp(
    `^cloudbackup-updater: the upgrade to ${escape(full(pm, "1.1.0"))} failed \\((.+)\\); ` +
      `rolled back to ${escape(full(pm, "1.0.0"))}, which is running again$`
  ).exec(verdict.at(-1) ?? "")
  expect.soft(match, `the verdict line\n${describeResult(run)}`).not.toBeNull()
  return match?.[1] ?? ""
}

/** The old version is installed, its files on disk, its agent the one running, the package database clean. */
const expectOldAgentBack = async (s: Scenario) => {
  expect(await s.installedVersion(), "the installed package").toBe(full(s.pm, "1.0.0"))
  expect((await s.root.readFile("/usr/share/driveclient/VERSION")).trim(), "the agent's files on disk").toBe("1.0.0")
  expect(await runningAgentVersion(s), "the running agent").toBe("1.0.0")
  await expectPackagesClean(s)
  await expectPackageVerified(s)
}

/** The failed version is recorded, and the next pass leaves everything as it is. */
const expectNotRetried = async (s: Scenario) => {
  const state = await readState(s)
  expect(state.failedVersion, JSON.stringify(state)).toMatchObject({ version: "1.1.0" })
  const rolledBack = await s.snapshot()
  const again = await s.runUpdater()
  expect(again.code, describeResult(again)).toBe(0)
  expect(again.stderr, describeResult(again)).toMatch(/1\.1\.0/)
  expect(await s.snapshot(), "nothing touched: version, agent pid, events, transactions, repository files").toEqual(rolledBack)
  await expectNoJournal(s)
  await expectSafeEnd(s, { wasRunning: true })
  return again
}

/** What a case left, in one line. */
const report = async (s: Scenario, name: string, run: ExecResult, extra = "") =>
  console.info(
    `[rollback ${s.pm}] ${name}: exit ${run.code}, ${verdictLines(run).join(" | ") || "(no verdict line)"}; ` +
      `package: ${await packageState(s)}; agent ${await runningAgentVersion(s)} running${extra}`
  )

describe.each(ALL_PMS)("a failed package transaction, with %s", (pm) => {
  const scenarios = useScenarios()

  it(`${FAILING_TRANSACTION[pm]}: rolled back to the old version, running; the version is not tried again`, async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", FAILING_TRANSACTION[pm]], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()

    const run = await s.runUpdater()
    const reason = expectRolledBackLine(pm, run)
    expect.soft(reason, "the failure is named").toMatch(TRANSACTION_ERROR[pm])
    await expectOldAgentBack(s)
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    await report(s, `failing transaction (${FAILING_TRANSACTION[pm]})`, run)

    const again = await expectNotRetried(s)
    console.info(`[rollback ${pm}] the next pass: exit ${again.code}: ${lines(again).at(-1)}`)
  })
})

describe.each(ALL_PMS)("a new agent whose start fails, with %s", (pm) => {
  const scenarios = useScenarios()

  it("is rolled back to the old version, which runs again", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0", "1.1.0-failing-start"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    const before = await s.snapshot()

    const run = await s.runUpdater()
    const reason = expectRolledBackLine(pm, run)
    expect.soft(reason, "the failure is named").toMatch(/start/)
    await expectOldAgentBack(s)
    // The new agent never came up: the old one stopped once and started once.
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    expect((await readState(s)).failedVersion).toMatchObject({ version: "1.1.0" })
    await report(s, "failing start", run)
  })
})

describe.each(ALL_PMS)("a repository that no longer offers the old version, with %s", (pm) => {
  const scenarios = useScenarios()

  it("the updater's kept copy of the version it installed is what it rolls back to", async () => {
    const s = await scenarios.create(pm)
    // The updater itself configures the repository and installs 1.0.0, keeping its package.
    await s.publish(["1.0.0"], "1.0.0")
    const install = await s.runUpdater()
    expect(install.code, describeResult(install)).toBe(0)
    expect(await s.installedVersion()).toBe(full(pm, "1.0.0"))
    expect(await runningAgentVersion(s), "the fresh install started the agent").toBe("1.0.0")
    expect(await keptPackages(s), `${IN_ROOT.keptPackagesDir}\n${describeResult(install)}`).toContain(packageFile(pm, "1.0.0"))

    // Only the broken 1.1.0 is published now, and no other copy of 1.0.0 is left on the host.
    await s.publish([FAILING_TRANSACTION[pm]], "1.1.0")
    const emptied = await emptyPackageCache(s)
    const before = await s.snapshot()

    const run = await s.runUpdater()
    const reason = expectRolledBackLine(pm, run)
    expect.soft(reason, "the failure is named").toMatch(TRANSACTION_ERROR[pm])
    const keptFile = `${IN_ROOT.keptPackagesDir}/${packageFile(pm, "1.0.0")}`
    const secured = lines(run).filter((l) => l.includes(keptFile))
    expect(secured.join("\n"), `a line names the kept copy as the package secured\n${describeResult(run)}`).toMatch(/\bkept\b/)
    await expectOldAgentBack(s)
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    expect(await keptPackages(s), "the kept copy is still kept").toContain(packageFile(pm, "1.0.0"))
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    await report(s, "old version gone from the repository", run, `; cache emptied of [${emptied.join(", ")}]; secured: ${secured.join(" | ")}`)
  })
})

/**
 * Installs 1.0.0 from the repository with the package manager itself (not the updater: nothing
 * kept), so that its cache holds the package: apt keeps what it downloads; dnf only with
 * keepcache, zypper only with the repository's keeppackages, which an administrator may set.
 */
const installFromRepositoryKeepingCache: Readonly<Record<Pm, (s: Scenario) => Promise<void>>> = {
  apt: async (s) => {
    await s.root.execOk(["apt-get", "update"], { timeoutMs: 120_000 })
    await s.root.execOk(["apt-get", "install", "-y", "driveclient=1.0.0-1"], {
      env: { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" },
      timeoutMs: 120_000
    })
  },
  dnf: async (s) => {
    const conf = await s.root.readFile("/etc/dnf/dnf.conf")
    await s.root.writeFile("/etc/dnf/dnf.conf", conf.replace(/^\[main\]$/m, "[main]\nkeepcache=True"))
    await s.root.execOk(["dnf", "-y", "install", "driveclient-1.0.0-1.el9"], { timeoutMs: 120_000 })
  },
  zypper: async (s) => {
    // `zypper mr -k` rewrites the .repo file (keys reordered, keeppackages=1), as an administrator's would.
    await s.root.execOk(["zypper", "--non-interactive", "modifyrepo", "--keep-packages", "drivesrvr"])
    await s.root.execOk(["zypper", "--non-interactive", "install", "driveclient-1.0.0-1.el9"], { timeoutMs: 120_000 })
  }
}

describe.each(ALL_PMS)("the old version only in the package manager's cache, with %s", (pm) => {
  const scenarios = useScenarios()

  it("the cached package is secured, and the failed upgrade rolls back to it", async () => {
    const s = await scenarios.create(pm)
    await s.publish(["1.0.0"], "1.0.0")
    await s.configureRepo()
    await installFromRepositoryKeepingCache[pm](s)
    expect(await runningAgentVersion(s), "the fresh install started the agent").toBe("1.0.0")
    const cached = await s.root.exec(["find", "/var/cache", "-type", "f", "-name", packageFile(pm, "1.0.0")])
    expect(cached.stdout.trim(), `the package manager's cache holds 1.0.0\n${describeResult(cached)}`).not.toBe("")
    expect(await keptPackages(s)).toEqual([])

    await s.publish([FAILING_TRANSACTION[pm]], "1.1.0")
    const before = await s.snapshot()
    const run = await s.runUpdater()
    const reason = expectRolledBackLine(pm, run)
    expect.soft(reason, "the failure is named").toMatch(TRANSACTION_ERROR[pm])
    const keptFile = `${IN_ROOT.keptPackagesDir}/${packageFile(pm, "1.0.0")}`
    const secured = lines(run).filter((l) => l.includes(keptFile))
    expect.soft(secured.join("\n"), `a line names the cached package as the package secured\n${describeResult(run)}`).toMatch(/\bcache\b/)
    await expectOldAgentBack(s)
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    await report(s, "old version only in the cache", run, `; secured: ${secured.join(" | ")}`)
  })
})

/** `dpkg-deb -c` of a package: "mode owner size name" per entry (no dates: a rebuilt package has today's). */
const debContents = async (file: string): Promise<string[]> =>
  (await execOk(["dpkg-deb", "-c", file])).stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [mode = "", owner = "", size = "", , , ...name] = l.trim().split(/\s+/)
      return `${mode} ${owner} ${size} ${name.join(" ")}`
    })
    .sort()

/** The control file and maintainer scripts of a package, by name. */
const debControl = async (file: string): Promise<Record<string, string>> => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "driveclient-e2e-control-"))
  try {
    await execOk(["dpkg-deb", "-e", file, dir])
    const result: Record<string, string> = {}
    for (const name of (await fs.readdir(dir)).sort()) result[name] = await fs.readFile(path.join(dir, name), "utf8")
    return result
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** The control fields that describe the package itself (what dpkg's database gives back, in any order). */
const controlFields = (control: string | undefined) =>
  Object.fromEntries(
    (control ?? "").split("\n").filter((l) => /^[A-Za-z-]+:/.test(l)).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()])
  )

describe("no package of the installed version anywhere, with apt", () => {
  const scenarios = useScenarios()

  it("the package is rebuilt from the installed files, and the failed upgrade rolls back to it", async () => {
    const s = await scenarios.create("apt")
    // 1.0.0 installed with dpkg from a file that is then gone: nothing kept, nothing in apt's
    // cache, and the repository offers only the broken 1.1.0.
    await s.publish(["1.1.0-failing-postinst"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    await fs.rm(s.root.path(`/tmp/${packageFile("apt", "1.0.0")}`), { force: true })
    expect(await keptPackages(s)).toEqual([])
    expect(await emptyPackageCache(s), "apt's cache held no agent package").toEqual([])
    const before = await s.snapshot()

    const run = await s.runUpdater()
    const reason = expectRolledBackLine("apt", run)
    expect.soft(reason, "the failure is named").toMatch(TRANSACTION_ERROR.apt)
    const rebuiltFile = `${IN_ROOT.keptPackagesDir}/${packageFile("apt", "1.0.0")}`
    const secured = lines(run).filter((l) => l.includes(rebuiltFile))
    expect(secured.join("\n"), `a line names the rebuilt package as the package secured\n${describeResult(run)}`).toMatch(/\brebuilt\b/)
    expect(await keptPackages(s)).toContain(packageFile("apt", "1.0.0"))

    // The rebuilt package holds what the original did: the same files (mode, owner, size), the
    // same maintainer scripts, the same package fields.
    const original = s.fixtures.builds["1.0.0"].deb
    const rebuilt = s.root.path(rebuiltFile)
    expect(await debContents(rebuilt), "the rebuilt package's files").toEqual(await debContents(original))
    const [originalControl, rebuiltControl] = [await debControl(original), await debControl(rebuilt)]
    for (const script of ["preinst", "postinst", "prerm", "postrm"]) {
      expect(rebuiltControl[script], `the rebuilt package's ${script}`).toEqual(originalControl[script])
    }
    expect(controlFields(rebuiltControl["control"]), "the rebuilt package's control fields").toMatchObject(
      controlFields(originalControl["control"])
    )

    await expectOldAgentBack(s)
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.0.0"])
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    const verify = await verifyPackage(s)
    const [originalFields, rebuiltFields] = [controlFields(originalControl["control"]), controlFields(rebuiltControl["control"])]
    const addedFields = Object.keys(rebuiltFields).filter((field) => !(field in originalFields))
    await report(
      s,
      "rebuilt package",
      run,
      `; secured: ${secured.join(" | ")}; dpkg -V: exit ${verify.code} "${verify.stdout.trim()}"; ` +
        `control files of the rebuilt package: ${Object.keys(rebuiltControl).join(", ")} (original: ${Object.keys(originalControl).join(", ")}); ` +
        `control fields it adds: [${addedFields.map((f) => `${f}: ${rebuiltFields[f]}`).join(", ")}]`
    )
  })
})

describe.each(RPM_PMS)("no package of the installed version anywhere, with %s (rpm has no rebuild)", (pm) => {
  const scenarios = useScenarios()

  it("a running agent is left alone (exit 0) unless --upgrade-without-rollback is given", async () => {
    const s = await scenarios.create(pm)
    // 1.0.0 installed with rpm from a file that is then gone; the repository offers only 1.1.0.
    await s.publish(["1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    await fs.rm(s.root.path(`/tmp/${packageFile(pm, "1.0.0")}`), { force: true })
    const before = await s.snapshot()

    const run = await s.runUpdater()
    expect(run.code, describeResult(run)).toBe(0)
    expect(run.stderr, describeResult(run)).toMatch(/^warn: .*1\.0\.0-1\.el9.*roll ?back.*$/m)
    expect(await s.snapshot(), "nothing touched: version, agent pid, events, transactions, repository files").toEqual(before)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })

    const accepted = await s.runUpdater({ args: ["--upgrade-without-rollback"] })
    expect(accepted.code, describeResult(accepted)).toBe(0)
    expect(await s.installedVersion()).toBe(full(pm, "1.1.0"))
    expect(await runningAgentVersion(s)).toBe("1.1.0")
    expect(summary((await s.events()).slice(before.events))).toEqual(["down 1.0.0", "up 1.1.0"])
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    console.info(
      `[rollback ${pm}] no way back: exit ${run.code}: ${lines(run).filter((l) => /^warn/.test(l)).join(" | ")}; ` +
        `with --upgrade-without-rollback: exit ${accepted.code}, ${await s.installedVersion()} installed`
    )
  })
})

/** A lock content naming no pid, per package manager (the lock rules do not depend on it). */
const NO_PID_LOCK: Readonly<Record<Pm, string>> = { apt: "busy\n", dnf: `{"state":"running"}\n`, zypper: "backup\n" }

describe.each(ALL_PMS)("a backup lock naming no pid, with %s", (pm) => {
  const scenarios = useScenarios()

  /** The running 1.0.0 agent, 1.1.0 published, and the agent's lock holding `content`. */
  const lockedAgent = async (s: Scenario, content: string, options: { readonly olderThanAgent: boolean }) => {
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    await s.root.writeFile(IN_ROOT.agentLock, content)
    if (options.olderThanAgent) {
      // Made a minute ago, then the agent restarted: the lock is older than the agent's process.
      const aMinuteAgo = new Date(Date.now() - 60_000)
      await fs.utimes(s.root.path(IN_ROOT.agentLock), aMinuteAgo, aMinuteAgo)
      await s.root.execOk(["/etc/init.d/driveclient", "restart"])
    }
    const pid = await s.agentPid()
    expect(pid, "the agent runs").toBeDefined()
    return s.snapshot()
  }

  it(`older than the running agent (${JSON.stringify(NO_PID_LOCK[pm])}): stale at once, the upgrade goes ahead`, async () => {
    const s = await scenarios.create(pm)
    const before = await lockedAgent(s, NO_PID_LOCK[pm], { olderThanAgent: true })

    // Were the lock taken for the agent's, the updater would give up after a minute (exit 1):
    // exit 0 shows it did not wait for the lock, let alone for the 10-minute stale period.
    const run = await s.runUpdater({ args: ["--max-wait", "1"] })
    expect(run.code, describeResult(run)).toBe(0)
    expect(run.stderr, describeResult(run)).toMatch(/^warn: removed the stale lock \/var\/cache\/driveclient\/backup-running\.lock: .+$/m)
    expect(upstream(await s.installedVersion())).toBe("1.1.0")
    expect(await runningAgentVersion(s)).toBe("1.1.0")
    const events = (await s.events()).slice(before.events)
    expect(summary(events)).toEqual(["down 1.0.0", "up 1.1.0"])
    // The agent stopped under the updater's own lock, which replaced the stale one.
    const down = events[0]
    expect(down?.kind === "down" ? down.lockOwner : undefined, "the backup lock's owner when the agent stopped").toBe(run.pid)
    await expectPackagesClean(s)
    await expectNoJournal(s)
    await expectSafeEnd(s, { wasRunning: true })
    console.info(`[rollback ${pm}] stale lock ${JSON.stringify(NO_PID_LOCK[pm])}: exit ${run.code} after ${run.finishedAt - run.startedAt} ms: ${lines(run).filter((l) => /stale/.test(l)).join(" | ")}`)
  })

  it("made while the agent runs: it is the agent's, and the agent is not stopped", async () => {
    const s = await scenarios.create(pm)
    const before = await lockedAgent(s, NO_PID_LOCK[pm], { olderThanAgent: false })

    const run = await s.runUpdater({ args: ["--max-wait", "0"], timeoutMs: 120_000 })
    expect(run.code, describeResult(run)).toBe(1)
    expect(verdictLines(run), describeResult(run)).toHaveLength(1)
    expect(verdictLines(run)[0], describeResult(run)).toMatch(/busy|backup lock/)
    expect(run.stderr, describeResult(run)).not.toMatch(/removed the stale lock/)
    expect(await s.root.readFile(IN_ROOT.agentLock), "the agent's lock is left as it was").toBe(NO_PID_LOCK[pm])
    const after = await s.snapshot()
    expect({ version: after.version, pid: after.pid, events: after.events, transactions: after.transactions }, "agent untouched").toEqual({
      version: before.version,
      pid: before.pid,
      events: before.events,
      transactions: before.transactions
    })
    console.info(`[rollback ${pm}] live lock ${JSON.stringify(NO_PID_LOCK[pm])}: exit ${run.code}: ${verdictLines(run).join(" | ")}`)
  })
})
