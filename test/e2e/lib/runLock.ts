/**
 * One end-to-end run at a time on a machine: runs share /tmp (roots are found and cleaned there)
 * and a checkout's .cache/. The lock is a file created exclusively with the owner's pid inside;
 * a lock whose owner is dead is taken over. A second run waits for the first.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { isAlive, sleep } from "./procfs.js"

export const RUN_LOCK = path.join(os.tmpdir(), "driveclient-e2e.lock")

const owner = async (): Promise<number | undefined> => {
  const pid = Number.parseInt(await fs.readFile(RUN_LOCK, "utf8").catch(() => ""), 10)
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

export const acquireRunLock = async (
  options: { readonly timeoutMs: number; readonly onWait: (pid: number) => void }
): Promise<void> => {
  const deadline = Date.now() + options.timeoutMs
  let announced = false
  for (;;) {
    try {
      await fs.writeFile(RUN_LOCK, `${process.pid}\n`, { flag: "wx" })
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const pid = await owner()
    if (pid === undefined || !(await isAlive(pid))) {
      // Stale (or half-written: give its writer a moment before judging).
      await sleep(200)
      if ((await owner()) === pid && (pid === undefined || !(await isAlive(pid)))) await fs.rm(RUN_LOCK, { force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`another end-to-end run (pid ${pid}) still holds ${RUN_LOCK}`)
    if (!announced) {
      announced = true
      options.onWait(pid)
    }
    await sleep(1000)
  }
}

export const releaseRunLock = async (): Promise<void> => {
  if ((await owner()) === process.pid) await fs.rm(RUN_LOCK, { force: true })
}
