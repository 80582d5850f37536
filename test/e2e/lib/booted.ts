/**
 * A booted systemd for one test: systemd as PID 1 of a fresh PID, mount, UTS and IPC namespace
 * (scripts/boot-systemd.sh), over an overlay (fresh upper layer in a temp dir) of the systemd root
 * image. The network namespace is the host's, so that units inside reach the repository server on
 * 127.0.0.1. Commands run inside through `nsenter -t <its PID 1> ...` (never without -t: a stray
 * systemctl must never reach the host's own init), files are read and written through
 * /proc/<PID 1>/root (which sees the tmpfs on /run and /tmp the host's mount namespace does not).
 *
 * systemd gets cgroups of its own, made here under the host's (name=systemd and cgroup2)
 * hierarchies and named like the temp dirs (`driveclient-e2e-<run pid>-…`), so that its units live
 * below them and nothing of it is left after teardown. `dispose` powers it off, kills the namespace
 * if it does not end, unmounts and removes the cgroups and the temp dir, also after failures;
 * `cleanupStaleBoots` (global setup) removes what a crashed run left.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describeResult, exec, type ExecOptions, type ExecResult, execOk, start } from "./exec.js"
import { SCRIPTS_DIR, TMP_PREFIX } from "./paths.js"
import { isAlive, type ProcessInfo, processesRootedAt, processesRootedUnder, processInfo, sleep } from "./procfs.js"
import { CLOSE_FDS_THEN_EXEC, mountsUnder, ownerOf, ROOT_ENV, umount } from "./root.js"
import { BOOTABLE_KINDS, type RootImage } from "./rootImage.js"

const BOOT_SCRIPT = path.join(SCRIPTS_DIR, "boot-systemd.sh")
/** Boot to `is-system-running` "running" takes well under a second here; leave room for a loaded machine. */
const BOOT_TIMEOUT_MS = 60_000
const POWEROFF_TIMEOUT_MS = 20_000

const log = (message: string) => process.stderr.write(`[booted] ${message}\n`)

// ------------------------------------------------------------------------------------ cgroups

interface Hierarchy {
  /** Where the hierarchy is mounted on the host, e.g. /sys/fs/cgroup/systemd. */
  readonly mount: string
  /** This process's cgroup in it, e.g. "/". */
  readonly own: string
}

/**
 * The hierarchies systemd tracks processes with: cgroup2 (the unified one, or the whole tree on a
 * pure cgroup-v2 host) and the legacy name=systemd one.
 */
const trackingHierarchies = async (): Promise<Hierarchy[]> => {
  const cgroups = (await fs.readFile("/proc/self/cgroup", "utf8")).split("\n").filter(Boolean)
  const ownPath = (controllers: string) =>
    cgroups.map((line) => /^\d+:([^:]*):(.*)$/.exec(line)).find((m) => m?.[1] === controllers)?.[2]
  const found: Hierarchy[] = []
  for (const line of (await fs.readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
    const [before, after] = line.split(" - ")
    if (before === undefined || after === undefined) continue
    const mount = before.split(" ")[4]
    const [fstype, , superOptions = ""] = after.split(" ")
    if (mount === undefined) continue
    const controllers = fstype === "cgroup2" ? "" : fstype === "cgroup" && superOptions.split(",").includes("name=systemd")
      ? "name=systemd"
      : undefined
    if (controllers === undefined) continue
    const own = ownPath(controllers)
    if (own !== undefined) found.push({ mount, own })
  }
  if (found.length === 0) throw new Error("no cgroup2 or name=systemd hierarchy is mounted: systemd cannot boot here")
  return found
}

/** Removes a cgroup and everything below it, deepest first; processes still in it are killed first. */
const removeCgroupTree = async (dir: string): Promise<void> => {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => undefined)
  if (entries === undefined) return
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(path.join(dir, entry.name))
  for (let attempt = 0; ; attempt++) {
    const pids = (await fs.readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => ""))
      .split("\n").filter(Boolean).map(Number)
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL")
      } catch { /* gone */ }
    }
    try {
      await fs.rmdir(dir)
      return
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ENOENT") return
      if (attempt >= 100) throw new Error(`cannot remove the cgroup ${dir}: ${String(error)}`)
      await sleep(50)
    }
  }
}

/**
 * Removes the cgroups of booted roots whose run is gone (or is this very process), and kills what
 * still runs in them; those of another live run are left alone. Run after cleanupStaleRoots.
 */
export const cleanupStaleBoots = async (): Promise<void> => {
  for (const hierarchy of await trackingHierarchies().catch(() => [])) {
    const parent = path.join(hierarchy.mount, hierarchy.own)
    for (const name of await fs.readdir(parent).catch(() => [])) {
      if (!name.startsWith(TMP_PREFIX)) continue
      const owner = ownerOf(name)
      if (owner !== undefined && owner !== process.pid && (await isAlive(owner))) continue
      await removeCgroupTree(path.join(parent, name))
    }
  }
}

// ------------------------------------------------------------------------------------ booted root

export interface JournalEntry {
  readonly MESSAGE?: string
  readonly PRIORITY?: string
  readonly _SYSTEMD_UNIT?: string
  readonly SYSLOG_IDENTIFIER?: string
  readonly [field: string]: unknown
}

export class Booted {
  private disposed = false

  private constructor(
    /** The temp dir holding upper/, work/, root/ and boot.log. */
    readonly tmp: string,
    /** The overlay's mount point on the host (the chroot of everything inside). */
    readonly dir: string,
    /** systemd's pid as the host sees it (PID 1 inside). */
    readonly pid: number,
    /** The launcher (unshare): it exits when the namespace's PID 1 does. */
    private readonly launcher: { readonly pid: number; readonly exited: Promise<void>; readonly hasExited: () => boolean },
    private readonly cgroups: ReadonlyArray<string>,
    private readonly overlayMounted: boolean
  ) {}

  /** Mounts a fresh overlay of `image` (a kind with systemd) and boots it; `runId` tags the temp dir and cgroups. */
  static async boot(image: RootImage, runId: number): Promise<Booted> {
    if (!BOOTABLE_KINDS.includes(image.kind)) throw new Error(`cannot boot a ${image.kind} root: it has no systemd`)
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `${TMP_PREFIX}${runId}-${image.kind}-`))
    const dir = path.join(tmp, "root")
    const upper = path.join(tmp, "upper")
    const work = path.join(tmp, "work")
    await Promise.all([dir, upper, work].map((d) => fs.mkdir(d)))
    const cgroups: string[] = []
    let overlayMounted = false
    let launcher: Booted["launcher"] | undefined
    const bootLog = path.join(tmp, "boot.log")
    const fail = async (error: unknown): Promise<never> => {
      const booted = new Booted(tmp, dir, -1, launcher ?? noLauncher, cgroups, overlayMounted)
      await booted.dispose().catch((e: unknown) => log(`cleanup after a failed boot: ${String(e)}`))
      const output = await fs.readFile(bootLog, "utf8").catch(() => "")
      throw new Error(`${error instanceof Error ? error.message : String(error)}${output === "" ? "" : `\n--- boot output\n${output}`}`)
    }
    try {
      await execOk(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${image.baseDir},upperdir=${upper},workdir=${work}`, dir])
      overlayMounted = true
      // A machine id of its own: the journal's directory, D-Bus and logind go by it.
      await fs.writeFile(path.join(dir, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`)
      const name = path.basename(tmp)
      for (const hierarchy of await trackingHierarchies()) {
        const cgroup = path.join(hierarchy.mount, hierarchy.own, name)
        await fs.mkdir(cgroup)
        cgroups.push(cgroup)
      }
      launcher = await launch(dir, cgroups.map((cgroup) => path.join(cgroup, "cgroup.procs")), bootLog)
      const pid = await pidOne(launcher)
      const booted = new Booted(tmp, dir, pid, launcher, cgroups, overlayMounted)
      try {
        await booted.waitUntilBooted()
      } catch (error) {
        const journal = await booted.exec(["journalctl", "-b", "--no-pager", "-n", "60"]).catch(() => undefined)
        throw new Error(`${error instanceof Error ? error.message : String(error)}${journal === undefined ? "" : `\n--- journal\n${journal.stdout}`}`)
      }
      return booted
    } catch (error) {
      return fail(error)
    }
  }

  /** Waits for `systemctl is-system-running --wait`: "running", or "degraded" (the failed units are logged). */
  private async waitUntilBooted(): Promise<void> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS
    let last: ExecResult | undefined
    while (Date.now() < deadline) {
      if (this.launcher.hasExited()) throw new Error("systemd exited during boot")
      last = await this.exec(["systemctl", "is-system-running", "--wait"], { timeoutMs: Math.max(1000, deadline - Date.now()) })
      const state = last.stdout.trim()
      if (state === "running") return
      if (state === "degraded") {
        log(`booted degraded; failed units:\n${(await this.exec(["systemctl", "--failed", "--no-legend", "--plain"])).stdout}`)
        return
      }
      // Before its bus is up systemctl cannot ask; "starting" ends with --wait.
      await sleep(100)
    }
    throw new Error(`systemd did not finish booting within ${BOOT_TIMEOUT_MS} ms\n${last === undefined ? "" : describeResult(last)}`)
  }

  /**
   * The argv that runs `argv` inside: nsenter into every namespace of its PID 1 but the network
   * (the host's anyway), its root and working directory, behind the wrapper that closes every
   * inherited descriptor above 2.
   */
  argv(argv: ReadonlyArray<string>): string[] {
    if (!Number.isInteger(this.pid) || this.pid <= 1) throw new Error(`no booted systemd to enter (pid ${this.pid})`)
    if (this.disposed) throw new Error("this booted root is disposed")
    return [...CLOSE_FDS_THEN_EXEC, "nsenter", "-t", String(this.pid), "-m", "-u", "-i", "-p", "-r", "-w", "--", ...argv]
  }

  private options(argv: ReadonlyArray<string>, options: ExecOptions): ExecOptions {
    return { ...options, env: options.env ?? ROOT_ENV, display: ["[booted]", ...argv] }
  }

  /** Runs `argv` inside; its exit code, stdout and stderr. */
  exec(argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> {
    return exec(this.argv(argv), this.options(argv, options))
  }

  execOk(argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> {
    return execOk(this.argv(argv), this.options(argv, options))
  }

  /** Starts `argv` inside and returns at once (`pid` is nsenter's). */
  start(argv: ReadonlyArray<string>, options: ExecOptions = {}) {
    return start(this.argv(argv), this.options(argv, options))
  }

  systemctl(...args: string[]): Promise<ExecResult> {
    return this.exec(["systemctl", ...args])
  }

  /** `systemctl show -p NAME... UNIT` as a record. */
  async show(unit: string, ...properties: string[]): Promise<Record<string, string>> {
    const result = await this.execOk(["systemctl", "show", unit, ...properties.map((p) => `--property=${p}`)])
    return Object.fromEntries(
      result.stdout.split("\n").filter((line) => line.includes("=")).map((line) => {
        const at = line.indexOf("=")
        return [line.slice(0, at), line.slice(at + 1)]
      })
    )
  }

  /** The journal's entries (`journalctl -o json`), e.g. `["-u", "x.service", "-p", "err"]`. */
  async journal(args: ReadonlyArray<string>): Promise<JournalEntry[]> {
    const result = await this.execOk(["journalctl", "--no-pager", "-o", "json", ...args])
    return result.stdout.split("\n").filter((line) => line.trim() !== "").map((line) => {
      const entry = JSON.parse(line) as JournalEntry
      // journald stores a message with non-UTF-8 bytes as an array of bytes.
      const message = entry.MESSAGE as unknown
      return Array.isArray(message) ? { ...entry, MESSAGE: Buffer.from(message as number[]).toString("utf8") } : entry
    })
  }

  /** The journal as text (`journalctl -o short-precise ...`), for messages. */
  async journalText(args: ReadonlyArray<string> = []): Promise<string> {
    return (await this.exec(["journalctl", "--no-pager", "-o", "short-precise", ...args])).stdout
  }

  /** Host path of a path inside (through /proc/<PID 1>/root: /run and /tmp included). */
  path(inRoot: string): string {
    return path.join(`/proc/${this.pid}/root`, inRoot)
  }

  readFile(inRoot: string): Promise<string> {
    return fs.readFile(this.path(inRoot), "utf8")
  }

  readFileOr(inRoot: string, fallback: string): Promise<string> {
    return this.readFile(inRoot).catch(() => fallback)
  }

  async writeFile(inRoot: string, content: string | Buffer, mode = 0o644): Promise<void> {
    const file = this.path(inRoot)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, content, { mode })
  }

  exists(inRoot: string): Promise<boolean> {
    return fs.lstat(this.path(inRoot)).then(() => true, () => false)
  }

  /** Copies a host file into the root's /tmp; its path inside. */
  async copyIn(file: string): Promise<string> {
    const inRoot = `/tmp/${path.basename(file)}`
    await fs.copyFile(file, this.path(inRoot))
    return inRoot
  }

  /** Live processes inside (systemd, its services, and whatever nsenter runs). */
  processes(): Promise<ProcessInfo[]> {
    return processesRootedAt(this.dir)
  }

  /**
   * Powers systemd off (its poweroff ends the PID namespace), kills the namespace if it does not
   * end in time, unmounts the overlay, removes the cgroups and the temp dir. Idempotent; also
   * cleans up after a failed or half-done boot.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return
    if (this.pid > 1 && !this.launcher.hasExited()) {
      const poweroff = await this.exec(["systemctl", "poweroff"], { timeoutMs: 10_000 }).catch(() => undefined)
      const ended = await Promise.race([this.launcher.exited.then(() => true), sleep(POWEROFF_TIMEOUT_MS).then(() => false)])
      if (!ended) {
        log(`systemd (pid ${this.pid}) still runs ${POWEROFF_TIMEOUT_MS} ms after poweroff; killing its namespace` +
          (poweroff === undefined ? "" : `\n${describeResult(poweroff)}`))
      }
    }
    this.disposed = true
    // SIGKILL to a PID namespace's init kills every process in the namespace.
    for (const pid of [this.pid, this.launcher.pid]) {
      if (pid > 1 && (await isAlive(pid))) {
        try {
          process.kill(pid, "SIGKILL")
        } catch { /* gone */ }
      }
    }
    await Promise.race([this.launcher.exited, sleep(10_000)])
    for (let round = 0; round < 50; round++) {
      const pids = await processesRootedUnder(this.tmp)
      if (pids.length === 0) break
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL")
        } catch { /* gone */ }
      }
      await sleep(50)
    }
    if (this.overlayMounted) await umount(this.dir)
    for (const cgroup of this.cgroups) await removeCgroupTree(cgroup)
    const left = await mountsUnder(this.tmp)
    if (left.length > 0) throw new Error(`still mounted, ${this.tmp} kept: ${left.join(", ")}`)
    await fs.rm(this.tmp, { recursive: true, force: true })
  }
}

const noLauncher: Booted["launcher"] = { pid: -1, exited: Promise.resolve(), hasExited: () => true }

/** Starts boot-systemd.sh (it becomes unshare); its output goes to `bootLog`. */
const launch = async (dir: string, cgroupProcs: ReadonlyArray<string>, bootLog: string): Promise<Booted["launcher"]> => {
  const out = await fs.open(bootLog, "a")
  try {
    const argv = [...CLOSE_FDS_THEN_EXEC, "sh", BOOT_SCRIPT, dir, ...cgroupProcs]
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", out.fd, out.fd], env: ROOT_ENV, detached: true })
    let exited = false
    const done = new Promise<void>((resolve) => {
      child.on("exit", () => {
        exited = true
        resolve()
      })
      child.on("error", (error) => {
        log(`cannot start ${BOOT_SCRIPT}: ${error.message}`)
        exited = true
        resolve()
      })
    })
    if (child.pid === undefined) throw new Error(`cannot start ${BOOT_SCRIPT}`)
    return { pid: child.pid, exited: done, hasExited: () => exited }
  } finally {
    await out.close()
  }
}

/** The host pid of the namespace's PID 1 (unshare's child) once it is systemd. */
const pidOne = async (launcher: Booted["launcher"]): Promise<number> => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (launcher.hasExited()) throw new Error("the namespace ended before systemd started")
    const children = await fs.readFile(`/proc/${launcher.pid}/task/${launcher.pid}/children`, "utf8").catch(() => "")
    for (const pid of children.split(/\s+/).filter(Boolean).map(Number)) {
      if ((await processInfo(pid))?.comm === "systemd") return pid
    }
    await sleep(20)
  }
  throw new Error("systemd did not start within 10 s")
}
