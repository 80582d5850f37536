/** The local process table, read from /proc: whether a pid lives, its command line, when it started. */
import * as fs from "node:fs"
import * as path from "node:path"

/** Whether a pid is a live process; zombies count as dead (PID 1 may reap them late). */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  try {
    return statFields(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))[0] !== "Z"
  } catch {
    return true
  }
}

/** The command name of a live process (`/proc/PID/cmdline`), if it can be read. */
export const processCommandLine = (pid: number): ReadonlyArray<string> | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean)
  } catch {
    return undefined
  }
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses): state first. */
const statFields = (stat: string): ReadonlyArray<string> => stat.slice(stat.lastIndexOf(")") + 2).split(" ")

/**
 * The unit of /proc's process times (`getconf CLK_TCK`, USER_HZ). It is 100 on every
 * architecture the updater is packaged for; asking would mean running a program.
 */
const CLOCK_TICKS_PER_SECOND = 100

/** Boot time in epoch seconds: the `btime` line of /proc/stat. */
const bootTime = (procDir: string): number | undefined => {
  const match = /^btime (\d+)$/m.exec(fs.readFileSync(path.join(procDir, "stat"), "utf8"))
  return match === null ? undefined : Number(match[1])
}

/**
 * When a live process started (epoch ms): its `starttime` (field 22 of /proc/PID/stat,
 * in clock ticks since boot) after the boot time. Exact to a second, as `btime` is.
 * Undefined for a process that is gone, a zombie, or when /proc cannot be read.
 */
export const processStartTime = (pid: number, procDir = "/proc"): number | undefined => {
  try {
    const fields = statFields(fs.readFileSync(path.join(procDir, String(pid), "stat"), "utf8"))
    const ticks = Number(fields[19])
    if (fields[0] === "Z" || !Number.isSafeInteger(ticks) || ticks < 0) return undefined
    const boot = bootTime(procDir)
    return boot === undefined ? undefined : boot * 1000 + Math.round((ticks * 1000) / CLOCK_TICKS_PER_SECOND)
  } catch {
    return undefined
  }
}
