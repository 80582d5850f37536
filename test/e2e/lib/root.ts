/**
 * A throwaway root for one test: an overlay (fresh upper layer in a temp dir) over a cached
 * base tree, with /proc and a private devpts instance mounted inside. The host's /dev is never
 * bound. `dispose` kills whatever still runs inside and unmounts everything, also after failures.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { exec, type ExecOptions, type ExecResult, execOk, start } from "./exec.js"
import { BUNDLE, IN_ROOT, TMP_PREFIX } from "./paths.js"
import { isAlive, type ProcessInfo, processesRootedAt, processesRootedUnder, sleep } from "./procfs.js"
import type { RootImage, RootKind } from "./rootImage.js"

/** The environment a root-run cron job or init script gets; nothing leaks from the host. */
export const ROOT_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8"
}

/** perl (Essential in Debian) closes fds > 2 and execs its arguments, keeping the pid. */
export const CLOSE_FDS_THEN_EXEC = [
  "perl",
  "-MPOSIX",
  "-e",
  'opendir(my $d, "/proc/self/fd") or die "e2e: /proc/self/fd: $!\\n"; ' +
    "my @fds = grep { /^\\d+$/ && $_ > 2 } readdir($d); closedir($d); " +
    "POSIX::close($_) for @fds; " +
    'exec { $ARGV[0] } @ARGV or die "e2e: exec $ARGV[0]: $!\\n";'
]

export const umount = async (target: string) => {
  const result = await exec(["umount", target])
  if (result.code !== 0) await exec(["umount", "-l", target])
}

export class Root {
  private disposed = false

  private constructor(
    readonly kind: RootKind,
    /** The temp dir holding upper/, work/ and the mount point root/. */
    readonly tmp: string,
    /** The root directory, as the host sees it. */
    readonly dir: string,
    private readonly mounts: string[]
  ) {}

  /** `runId`: the pid of the vitest main process, so that cleanup can tell live runs apart. */
  static async mount(image: RootImage, runId: number): Promise<Root> {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `${TMP_PREFIX}${runId}-${image.kind}-`))
    const dir = path.join(tmp, "root")
    const upper = path.join(tmp, "upper")
    const work = path.join(tmp, "work")
    await Promise.all([dir, upper, work].map((d) => fs.mkdir(d)))
    const root = new Root(image.kind, tmp, dir, [])
    try {
      await root.mountOne(
        ["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${image.baseDir},upperdir=${upper},workdir=${work}`, dir],
        dir
      )
      await root.mountOne(["mount", "-t", "proc", "proc", root.path("/proc")], root.path("/proc"))
      await root.mountOne(
        ["mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts", root.path("/dev/pts")],
        root.path("/dev/pts")
      )
      await root.installBundle()
    } catch (error) {
      await root.dispose()
      throw error
    }
    return root
  }

  private async mountOne(argv: string[], target: string) {
    await execOk(argv)
    this.mounts.push(target)
  }

  /** Copies the updater bundle into the root, when it has been built. */
  private async installBundle() {
    const target = this.path(IN_ROOT.bundle)
    await fs.mkdir(path.dirname(target), { recursive: true })
    await fs.copyFile(BUNDLE, target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error
    })
  }

  /** Host path of a path inside the root. (/var/run is an absolute link to /run: use /run.) */
  path(inRoot: string): string {
    return path.join(this.dir, inRoot)
  }

  /**
   * chroot, behind a wrapper that first closes every descriptor above 2: whatever the test
   * process inherited without close-on-exec (CI runners and shells leave some) must not reach
   * the root, where the suite asserts that the agent inherits nothing.
   */
  chrootArgv(argv: ReadonlyArray<string>): string[] {
    return [...CLOSE_FDS_THEN_EXEC, "chroot", this.dir, ...argv]
  }

  private options(argv: ReadonlyArray<string>, options: ExecOptions): ExecOptions {
    return { ...options, env: options.env ?? ROOT_ENV, display: ["chroot", this.dir, ...argv] }
  }

  exec(argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> {
    return exec(this.chrootArgv(argv), this.options(argv, options))
  }

  execOk(argv: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ExecResult> {
    return execOk(this.chrootArgv(argv), this.options(argv, options))
  }

  /** Starts a command in the root; `pid` is that of the program itself (chroot execs it). */
  start(argv: ReadonlyArray<string>, options: ExecOptions = {}) {
    return start(this.chrootArgv(argv), this.options(argv, options))
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

  /** Live processes running inside this root. */
  processes(): Promise<ProcessInfo[]> {
    return processesRootedAt(this.dir)
  }

  /** Strips the root's directory from a host path (e.g. an fd link target). */
  toInRoot(hostPath: string): string {
    return hostPath.startsWith(`${this.dir}/`) ? hostPath.slice(this.dir.length) : hostPath
  }

  async killAll(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const pids = await processesRootedUnder(this.dir)
      if (pids.length === 0) return
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL")
        } catch { /* gone */ }
      }
      for (const pid of pids) {
        for (let i = 0; i < 20 && (await isAlive(pid)); i++) await sleep(10)
      }
    }
  }

  /** Kills everything inside, unmounts (lazily if busy) and removes the temp dir. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    await this.killAll()
    for (const target of [...this.mounts].reverse()) await umount(target)
    this.mounts.length = 0
    const left = await mountsUnder(this.tmp)
    if (left.length > 0) throw new Error(`still mounted, ${this.tmp} kept: ${left.join(", ")}`)
    await fs.rm(this.tmp, { recursive: true, force: true })
  }
}

export const mountsUnder = async (dir: string): Promise<string[]> =>
  (await fs.readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target === dir || target.startsWith(`${dir}/`))

/** The pid of the run that made an e2e temp dir, when its name carries one. */
export const ownerOf = (name: string): number | undefined => {
  const pid = new RegExp(`^${TMP_PREFIX}(\\d+)-`).exec(name)?.[1]
  return pid === undefined ? undefined : Number(pid)
}

/**
 * Cleans up after runs that died: kills the processes in, unmounts and removes every e2e temp
 * dir whose run is gone (or is this very process). Dirs of another live run are left alone.
 */
export const cleanupStaleRoots = async (): Promise<void> => {
  const tmps: string[] = []
  for (const name of await fs.readdir(os.tmpdir())) {
    if (!name.startsWith(TMP_PREFIX)) continue
    const owner = ownerOf(name)
    if (owner !== undefined && owner !== process.pid && (await isAlive(owner))) continue
    tmps.push(path.join(os.tmpdir(), name))
  }
  for (const tmp of tmps) {
    for (const pid of await processesRootedUnder(tmp)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch { /* gone */ }
    }
  }
  if (tmps.length > 0) await sleep(200)
  for (const tmp of tmps) {
    for (const target of (await mountsUnder(tmp)).reverse()) await umount(target)
    if ((await mountsUnder(tmp)).length === 0) await fs.rm(tmp, { recursive: true, force: true })
  }
}
