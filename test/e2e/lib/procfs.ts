/** Reads the host's /proc: processes, their state, roots and open file descriptors. */
import * as fs from "node:fs/promises"

export interface ProcessInfo {
  readonly pid: number
  readonly ppid: number
  /** The one-letter state from /proc/PID/stat (R, S, D, Z, ...). */
  readonly state: string
  readonly comm: string
  readonly cmdline: ReadonlyArray<string>
}

const readOrUndefined = (file: string) => fs.readFile(file, "utf8").catch(() => undefined)

export const processInfo = async (pid: number): Promise<ProcessInfo | undefined> => {
  const stat = await readOrUndefined(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const close = stat.lastIndexOf(")")
  const comm = stat.slice(stat.indexOf("(") + 1, close)
  const [state = "?", ppid = "0"] = stat.slice(close + 2).split(" ")
  const cmdline = ((await readOrUndefined(`/proc/${pid}/cmdline`)) ?? "").split("\0").filter((s) => s !== "")
  return { pid, ppid: Number(ppid), state, comm, cmdline }
}

/** Alive means: exists and is not a zombie (this machine's PID 1 reaps orphans late). */
export const isAlive = async (pid: number): Promise<boolean> => {
  const info = await processInfo(pid)
  return info !== undefined && info.state !== "Z" && info.state !== "X"
}

const allPids = async (): Promise<number[]> =>
  (await fs.readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number)

/** Live processes whose root directory is `rootDir` (zombies have no root and are left out). */
export const processesRootedAt = async (rootDir: string): Promise<ProcessInfo[]> => {
  const found: ProcessInfo[] = []
  for (const pid of await allPids()) {
    const root = await fs.readlink(`/proc/${pid}/root`).catch(() => undefined)
    if (root !== rootDir) continue
    const info = await processInfo(pid)
    if (info !== undefined && info.state !== "Z" && info.state !== "X") found.push(info)
  }
  return found
}

/** Processes whose root is `dir` or anything below it. */
export const processesRootedUnder = async (dir: string): Promise<number[]> => {
  const found: number[] = []
  for (const pid of await allPids()) {
    const root = await fs.readlink(`/proc/${pid}/root`).catch(() => undefined)
    if (root !== undefined && (root === dir || root.startsWith(`${dir}/`))) found.push(pid)
  }
  return found
}

export interface OpenFd {
  readonly fd: number
  /** The link target as the host sees it (paths include the root directory). */
  readonly target: string
}

export const openFds = async (pid: number): Promise<OpenFd[]> => {
  const names = await fs.readdir(`/proc/${pid}/fd`)
  const fds: OpenFd[] = []
  for (const name of names) {
    const target = await fs.readlink(`/proc/${pid}/fd/${name}`).catch(() => undefined)
    if (target !== undefined) fds.push({ fd: Number(name), target })
  }
  return fds.sort((a, b) => a.fd - b.fd)
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** CPU seconds (user + system) a live process has used so far; undefined once it is gone. */
export const cpuSeconds = async (pid: number): Promise<number | undefined> => {
  const stat = await readOrUndefined(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the state), in clock ticks
  // (USER_HZ, 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Samples a process's CPU time until it exits; `last()` is the final reading before that. */
export const sampleCpu = (pid: number, everyMs = 100) => {
  let last = 0
  const timer = setInterval(() => {
    void cpuSeconds(pid).then((s) => {
      if (s !== undefined) last = s
    })
  }, everyMs)
  return {
    last: () => last,
    stop: () => clearInterval(timer)
  }
}
