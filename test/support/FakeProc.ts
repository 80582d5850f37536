/** A stand-in for /proc in a temp directory: the boot time and the processes' stat lines. */
import * as fs from "node:fs"
import * as path from "node:path"

/** Boot time (epoch seconds) written by `writeBootTime` unless told otherwise: 2024-05-01T00:00:00Z. */
export const BOOT_TIME = 1_714_521_600

export const writeBootTime = (procDir: string, btime: number = BOOT_TIME) => {
  fs.mkdirSync(procDir, { recursive: true })
  fs.writeFileSync(
    path.join(procDir, "stat"),
    `cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 0\nbtime ${btime}\nprocesses 10\nprocs_running 1\nprocs_blocked 0\n`
  )
}

/** /proc/PID/stat of a process started `startTicks` clock ticks (1/100 s) after boot. */
export const writeProcess = (
  procDir: string,
  pid: number,
  startTicks: number,
  options: { readonly comm?: string; readonly state?: string } = {}
) => {
  const fields = [options.state ?? "S", 1, pid, pid, 0, -1, 4194560, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, startTicks, 1000, 100]
  fs.mkdirSync(path.join(procDir, String(pid)), { recursive: true })
  fs.writeFileSync(path.join(procDir, String(pid), "stat"), `${pid} (${options.comm ?? "driveclient"}) ${fields.join(" ")}\n`)
}

/** The epoch ms `processStartTime` gives for such a process. */
export const startTimeOf = (startTicks: number, btime: number = BOOT_TIME) => btime * 1000 + startTicks * 10
