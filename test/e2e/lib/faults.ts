/**
 * Helpers of the fault scenarios: the updater in a process group of its own (to kill it with
 * the package manager it runs), its journal in state.json, the fault variants' script log, the
 * package database's health, and locks held by other programs inside a root.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import { expectAgentInheritedNoFds, expectNoStrayProcesses } from "./checks.js"
import type { AgentEvent } from "./events.js"
import { describeResult, type ExecResult } from "./exec.js"
import { BUNDLE, IN_ROOT } from "./paths.js"
import { isAlive, sleep } from "./procfs.js"
import type { Scenario, UpdaterOptions } from "./scenario.js"

export const STATE_FILE = `${IN_ROOT.updaterStateDir}/state.json`
/** Where the slow-scripts variant's maintainer scripts log "<ms> preinst|postinst <version>". */
export const SCRIPTS_LOG = "/var/log/driveclient-scripts.log"
const AGENT_LOCK_DIR = path.posix.dirname(IN_ROOT.agentLock)

export interface Journal {
  readonly pid: number
  readonly step: string
  readonly previous: string
  readonly target: string
  readonly agentWasRunning: boolean
  readonly holdsAgentLock: boolean
}

export interface UpdaterState {
  readonly journal?: Journal
  readonly failedVersion?: { readonly version: string; readonly at: number; readonly reason: string }
  readonly [key: string]: unknown
}

/** The updater's state.json in the root ({} when there is none). */
export const readState = async (s: Scenario): Promise<UpdaterState> => {
  const text = await s.root.readFileOr(STATE_FILE, "")
  if (text.trim() === "") return {}
  return JSON.parse(text) as UpdaterState
}

export interface RunningUpdater {
  /** The updater's pid, which is also its process group's id. */
  readonly pid: number
  readonly done: Promise<ExecResult>
  /** Whether the updater has exited. */
  readonly exited: () => boolean
}

/**
 * Starts the one-shot updater in a process group of its own: everything it starts (apt-get,
 * dpkg, dnf and their scripts, `service`) stays in that group unless it makes a session of its
 * own, as the agent's daemon does.
 */
export const startUpdaterGroup = async (s: Scenario, options: UpdaterOptions = {}): Promise<RunningUpdater> => {
  await fs.promises.access(BUNDLE).catch(() => {
    throw new Error(`${BUNDLE} does not exist: run "npm run build" first`)
  })
  let exited = false
  const started = s.root.start(s.updaterArgv(options), { timeoutMs: options.timeoutMs ?? 180_000, detached: true })
  const done = started.done.finally(() => {
    exited = true
  })
  return { pid: started.pid, done, exited: () => exited }
}

const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig)
  } catch { /* already gone */ }
}

/**
 * SIGKILL, as a power loss would, to the updater and everything it started: its process group
 * and every descendant (apt-get runs dpkg on a pty, in a session of its own). The group is
 * stopped first, so that nothing in it forks, exits or is reparented while the tree is read.
 * The agent's daemon, once its start script is done, is no descendant any more and lives on; the
 * package manager's helper daemons (PackageManagerOps.helperDaemons) are killed as well.
 */
export const killUpdaterTree = async (s: Scenario, updater: RunningUpdater): Promise<number[]> => {
  signal(-updater.pid, "SIGSTOP")
  const processes = await s.root.processes()
  const tree = new Set([updater.pid])
  for (let grew = true; grew;) {
    grew = false
    for (const p of processes) {
      if (tree.has(p.ppid) && !tree.has(p.pid)) {
        tree.add(p.pid)
        grew = true
      }
    }
  }
  const helpers = s.ops.helperDaemons
  if (helpers !== undefined) {
    for (const p of processes) if (helpers.test(p.cmdline.join(" "))) tree.add(p.pid)
  }
  signal(-updater.pid, "SIGKILL")
  for (const pid of tree) signal(pid, "SIGKILL")
  return [...tree]
}

/**
 * Calls `probe` every 20 ms and on every change in `watchDirs` (inside the root; a directory
 * that does not exist yet is polled) until it returns a value; undefined when the updater
 * exits first.
 */
export const watchFor = async <A>(
  s: Scenario,
  updater: RunningUpdater,
  watchDirs: ReadonlyArray<string>,
  probe: () => Promise<A | undefined>
): Promise<A | undefined> => {
  let poke: (() => void) | undefined
  const watchers: fs.FSWatcher[] = []
  const watch = () => {
    for (const dir of watchDirs) {
      try {
        watchers.push(fs.watch(s.root.path(dir), { persistent: false }, () => poke?.()))
      } catch { /* not there yet: polled */ }
    }
  }
  watch()
  try {
    for (;;) {
      const found = await probe()
      if (found !== undefined) return found
      if (updater.exited()) return await probe()
      await new Promise<void>((resolve) => {
        poke = resolve
        setTimeout(resolve, 20)
      })
      poke = undefined
      if (watchers.length < watchDirs.length) {
        for (const w of watchers.splice(0)) w.close()
        watch()
      }
    }
  } finally {
    for (const w of watchers) w.close()
  }
}

/** The steps of an upgrade of a running agent, in the order the journal names them. */
export const UPGRADE_STEPS = ["download", "lock", "stop", "transaction", "start", "health-check"] as const
export type UpgradeStep = (typeof UPGRADE_STEPS)[number]

/** The journal, once it names `step` or a later one (a short step may be over before it is seen). */
export const journalReached = (s: Scenario, step: UpgradeStep) => async (): Promise<Journal | undefined> => {
  const text = await s.root.readFileOr(STATE_FILE, "")
  try {
    const journal = (JSON.parse(text) as UpdaterState).journal
    const at = UPGRADE_STEPS.indexOf(journal?.step as UpgradeStep)
    return journal !== undefined && at >= UPGRADE_STEPS.indexOf(step) ? journal : undefined
  } catch {
    return undefined
  }
}

export interface ScriptRun {
  readonly at: number
  readonly script: string
  readonly version: string
}

export const scriptRuns = async (s: Scenario): Promise<ScriptRun[]> =>
  (await s.root.readFileOr(SCRIPTS_LOG, ""))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [at = "", script = "", version = ""] = line.trim().split(/\s+/)
      return { at: Number(at), script, version }
    })

/** The first run of the slow-scripts variant's `script` (preinst, postinst), once it has started. */
export const scriptStarted = (s: Scenario, script: string) => async (): Promise<ScriptRun | undefined> =>
  (await scriptRuns(s)).find((run) => run.script === script)

/** How the package database looks: dpkg's audit and the agent's status, or every installed agent rpm. */
export const packageState = async (s: Scenario): Promise<string> => {
  if (s.ops.format === "deb") {
    const status = await s.root.exec(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", "driveclient"])
    const audit = await s.root.exec(["dpkg", "--audit"])
    return `${status.stdout.trim()}${audit.stdout.trim() === "" ? ", audit clean" : ", dpkg --audit reports it"}`
  }
  const query = await s.root.exec(["rpm", "-q", "driveclient"])
  const lines = query.stdout.split("\n").filter((l) => l.trim() !== "")
  return lines.length === 1 ? lines[0]! : `${lines.length} rpms: ${lines.join(", ")}`
}

/** No half-done transaction: `dpkg --audit` reports nothing / exactly one driveclient rpm. */
export const expectPackagesClean = async (s: Scenario): Promise<void> => {
  if (s.ops.format === "deb") {
    const audit = await s.root.exec(["dpkg", "--audit"])
    expect(audit.stdout.trim(), `dpkg --audit\n${describeResult(audit)}`).toBe("")
    const status = await s.root.exec(["dpkg-query", "-W", "-f=${db:Status-Status}", "driveclient"])
    expect(status.stdout.trim(), "dpkg status of driveclient").toBe("installed")
  } else {
    const query = await s.root.exec(["rpm", "-q", "driveclient"])
    expect(query.stdout.trim().split("\n"), `rpm -q driveclient\n${describeResult(query)}`).toHaveLength(1)
  }
}

/** Files named like a lock in the backup lock's and the updater's directories. */
const lockNamed = async (s: Scenario): Promise<string[]> => {
  const found: string[] = []
  for (const dir of [AGENT_LOCK_DIR, IN_ROOT.updaterStateDir]) {
    const names = await fs.promises.readdir(s.root.path(dir)).catch(() => [] as string[])
    found.push(...names.filter((name) => /lock/i.test(name)).map((name) => `${dir}/${name}`))
  }
  return found
}

/**
 * A lock's staging copy (`<lock>.<pid>.new`, written and linked into place) or a stale lock
 * moved aside (`<lock>.stale.<pid>`): litter, not a lock — nothing waits for it.
 */
const isLockLitter = (file: string) => /\.lock\.(\d+\.new|stale\.\d+)$/.test(file)

/** Locks left: the backup lock, the pass lock, anything else named like a lock but litter. */
export const leftLocks = async (s: Scenario): Promise<string[]> => (await lockNamed(s)).filter((f) => !isLockLitter(f))

/** Lock litter left (see isLockLitter): reported, not failed on, since a kill leaves it by chance. */
export const lockLitter = async (s: Scenario): Promise<string[]> => (await lockNamed(s)).filter(isLockLitter)

/**
 * What every fault scenario must leave: the agent running if it was running before, no backup
 * lock and no pass lock (litter aside, see lockLitter), no process of the updater's (nothing in
 * the root but the agent), no descriptor of the updater's in the agent.
 */
export const expectSafeEnd = async (s: Scenario, options: { readonly wasRunning: boolean }): Promise<number | undefined> => {
  const pid = await s.agentPid()
  if (options.wasRunning) expect(pid, "the agent runs (it was running before)").toBeDefined()
  expect(await leftLocks(s), "lock files left behind").toEqual([])
  await expectNoStrayProcesses(s)
  if (pid !== undefined) await expectAgentInheritedNoFds(s, pid)
  return pid
}

/** The journal is gone from state.json. */
export const expectNoJournal = async (s: Scenario): Promise<void> => {
  expect((await readState(s)).journal, "the upgrade journal is cleared").toBeUndefined()
}

/** The version of the newest "up" event: what the running agent's binary says it is. */
export const runningAgentVersion = async (s: Scenario): Promise<string | undefined> => {
  const pid = await s.agentPid()
  const up = (await s.events()).filter((e) => e.kind === "up" && e.pid === pid).at(-1)
  return up?.kind === "up" ? up.version : undefined
}

/** The non-empty lines a run printed (stdout, then stderr), trimmed. */
export const lines = (run: ExecResult): string[] =>
  `${run.stdout}\n${run.stderr}`.split("\n").map((l) => l.trim()).filter((l) => l !== "")

/** The pid of a process that has exited (inside the root, so it was a real pid there). */
export const deadPid = async (s: Scenario): Promise<number> => {
  const result = await s.root.exec(["sh", "-c", "echo $$"])
  const pid = Number(result.stdout.trim())
  for (let i = 0; i < 100 && (await isAlive(pid)); i++) await sleep(10)
  if (!Number.isInteger(pid) || pid <= 0 || (await isAlive(pid))) throw new Error(`no dead pid: ${result.stdout}`)
  return pid
}

/** perl (Essential in Debian): takes dpkg's fcntl lock on FILE as dpkg and apt do, creates READY, holds it SECONDS. */
const HOLD_FCNTL_LOCK = [
  "perl",
  "-MFcntl",
  "-e",
  'my ($file, $ready, $secs) = @ARGV; sysopen(my $fh, $file, O_RDWR | O_CREAT, 0640) or die "open $file: $!\\n"; ' +
    // struct flock on x86_64: short l_type, short l_whence, (pad), off_t l_start, off_t l_len, pid_t l_pid, (pad)
    'my $lk = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); fcntl($fh, F_SETLK, $lk) or die "lock $file: $!\\n"; ' +
    'open(my $r, ">", $ready) or die "$ready: $!\\n"; close($r); sleep $secs; unlink $ready;'
]

export interface HeldLock {
  /** The holder's pid (a process inside the root). */
  readonly pid: number
  /** Resolves when the holder has let go. */
  readonly released: Promise<ExecResult>
}

/**
 * Another program holds the package manager's lock (PackageManagerOps.packageLock) for
 * `seconds`: an fcntl lock, taken as apt-get and dpkg take dpkg's frontend lock, or a pid file
 * naming a live `sleep` (dnf's RPMDB lock, zypper's /run/zypp.pid).
 */
export const holdPackageLock = async (s: Scenario, seconds: number): Promise<HeldLock> => {
  const { kind, file } = s.ops.packageLock
  if (kind === "fcntl") {
    const ready = "/run/e2e-package-lock-held"
    const holder = s.root.start([...HOLD_FCNTL_LOCK, file, ready, String(seconds)], {
      timeoutMs: (seconds + 60) * 1000
    })
    let exited = false
    void holder.done.finally(() => (exited = true))
    while (!(await s.root.exists(ready))) {
      if (exited) throw new Error(`the lock holder did not take ${file}\n${describeResult(await holder.done)}`)
      await sleep(10)
    }
    return { pid: holder.pid, released: holder.done }
  }
  const holder = s.root.start(["sleep", String(seconds)], { timeoutMs: (seconds + 60) * 1000 })
  await s.root.writeFile(file, String(holder.pid))
  return { pid: holder.pid, released: holder.done }
}

/** `cloudbackup-updater status [--json]` inside the root, as configured for this scenario. */
export const runStatus = (s: Scenario, options: { readonly json: boolean }): Promise<ExecResult> =>
  s.root.exec(
    [
      IN_ROOT.node,
      IN_ROOT.bundle,
      "status",
      "-r",
      s.server.url,
      "--package-manager",
      s.pm,
      "--service-manager",
      "sysv",
      ...(options.json ? ["--json"] : [])
    ],
    { timeoutMs: 60_000 }
  )

/** The parsed `status --json` report (throws, with the output, unless it exits 0 with JSON). */
export const statusJson = async (s: Scenario): Promise<Record<string, unknown>> => {
  const result = await runStatus(s, { json: true })
  if (result.code !== 0) throw new Error(`status --json failed\n${describeResult(result)}`)
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>
  } catch {
    throw new Error(`status --json printed no JSON\n${describeResult(result)}`)
  }
}

/** Agent events as "up 1.1.0", "down 1.0.0", "crash 1.1.0", "lock", "unlock". */
export const eventSummary = (events: ReadonlyArray<AgentEvent>): string[] =>
  events.map((e) => ("version" in e ? `${e.kind} ${e.version}` : e.kind))

/** `dpkg -V driveclient` / `rpm -V driveclient`: every file of the agent's package as the package database recorded it. */
export const verifyPackage = (s: Scenario): Promise<ExecResult> =>
  s.root.exec(s.ops.format === "deb" ? ["dpkg", "-V", "driveclient"] : ["rpm", "-V", "driveclient"])

/** The agent's installed files match its package: `dpkg -V` / `rpm -V` exit 0 and print nothing. */
export const expectPackageVerified = async (s: Scenario): Promise<void> => {
  const verify = await verifyPackage(s)
  expect({ code: verify.code, output: `${verify.stdout}${verify.stderr}`.trim() }, describeResult(verify)).toEqual({ code: 0, output: "" })
}

/** The agent packages the updater keeps for rollbacks (file names in IN_ROOT.keptPackagesDir). */
export const keptPackages = async (s: Scenario): Promise<string[]> =>
  (await fs.promises.readdir(s.root.path(IN_ROOT.keptPackagesDir)).catch(() => [] as string[])).sort()

/** Removes every agent package from the package manager's cache; returns what it removed (paths in the root). */
export const emptyPackageCache = async (s: Scenario): Promise<string[]> => {
  const found = await s.root.exec(["find", ...s.ops.cacheDirs, "-type", "f", "-name", "driveclient*", "-print", "-delete"])
  return found.stdout.split("\n").filter((l) => l.trim() !== "")
}
